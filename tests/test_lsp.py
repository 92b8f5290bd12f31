"""The language server, driven over stdio as an editor drives it: JSON-RPC with Content-Length framing.

Every read has a timeout, so a server that hangs or dies fails the test instead of hanging it.
"""
from __future__ import annotations

import dataclasses
import json
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from peelrules.source import Span
from peelrules.vocabulary import OUTLIER_BANDS

pytest.importorskip("pygls")

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
TIMEOUT = 10.0  # seconds for any one answer; the whole file runs in a few seconds

EXTRA = """\
# An area in a second file that refers to a rule of mini.peel.
area extra "Extra" {
  ungraded
  characteristic uses_contact "Uses the contact rule" {
    when contact.answers_999 and calls.abandoned < 5
    cite "Extra 1"
  }
}
"""
EXTRA_TYPO = EXTRA.replace("contact.answers_999", "contact.answers_99")


class Client:
    """A tiny LSP client: writes framed JSON-RPC to the server's stdin, a thread reads its stdout."""

    def __init__(self, log: Path):
        self.log = log.open("wb")
        self.proc = subprocess.Popen([sys.executable, "-m", "peelrules.lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.log)
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.notifications: list[dict[str, Any]] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while True:
                length = None
                while True:
                    line = out.readline()
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    key, _, value = line.decode("ascii").partition(":")
                    if key.strip().lower() == "content-length":
                        length = int(value.strip())
                assert length is not None, "a message without Content-Length"
                self.inbox.put(json.loads(out.read(length)))
        finally:
            self.inbox.put(None)

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def _next(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("timed out waiting for the language server")
        try:
            msg = self.inbox.get(timeout=remaining)
        except queue.Empty:
            raise AssertionError("timed out waiting for the language server") from None
        if msg is None:
            raise AssertionError(f"the language server closed its output (exit code {self.proc.poll()})")
        return msg

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any] | None) -> Any:
        self.next_id += 1
        rid = self.next_id
        self._send({"id": rid, "method": method, "params": params})
        deadline = time.monotonic() + TIMEOUT
        while True:
            msg = self._next(deadline)
            if msg.get("id") == rid and "method" not in msg:
                assert "error" not in msg, msg["error"]
                return msg.get("result")
            if "method" in msg and "id" in msg:  # a request from the server: answer it plainly
                self._send({"id": msg["id"], "result": None})
            elif "method" in msg:
                self.notifications.append(msg)

    def mark(self) -> int:
        """Where the notifications received so far end; waits look only at what comes after."""
        return len(self.notifications)

    def wait_for(self, accept: Callable[[dict[str, Any]], bool], since: int) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        seen = since
        while True:
            while seen < len(self.notifications):
                msg = self.notifications[seen]
                seen += 1
                if accept(msg):
                    return msg
            msg = self._next(deadline)
            if "method" in msg and "id" in msg:
                self._send({"id": msg["id"], "result": None})
            elif "method" in msg:
                self.notifications.append(msg)

    def diagnostics(self, uri: str, since: int, accept: Callable[[list[dict[str, Any]]], bool] = lambda d: True
                    ) -> list[dict[str, Any]]:
        msg = self.wait_for(lambda m: m["method"] == "textDocument/publishDiagnostics"
                            and m["params"]["uri"] == uri and accept(m["params"]["diagnostics"]), since)
        return msg["params"]["diagnostics"]

    # document helpers
    def open(self, uri: str, text: str) -> None:
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "peel", "version": 1,
                                                              "text": text}})

    def change(self, uri: str, text: str, version: int = 2) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                               "contentChanges": [{"text": text}]})

    def at(self, method: str, uri: str, pos: tuple[int, int]) -> Any:
        return self.request(method, {"textDocument": {"uri": uri},
                                     "position": {"line": pos[0], "character": pos[1]}})

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None)
                self.notify("exit", {})
                self.proc.wait(timeout=5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=5)
            self.log.close()


def where(text: str, word: str, nth: int = 0) -> tuple[int, int]:
    """The 0-based LSP position (line, character) of the nth occurrence of word in an ASCII text."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(word, offset + 1)
    line = text.count("\n", 0, offset)
    return line, offset - (text.rfind("\n", 0, offset) + 1)


def lsp_range(start: tuple[int, int], length: int) -> dict[str, Any]:
    return {"start": {"line": start[0], "character": start[1]},
            "end": {"line": start[0], "character": start[1] + length}}


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    folder.mkdir()
    shutil.copy(DATA / "mini.peel", folder / "mini.peel")
    (folder / "extra.peel").write_text(EXTRA, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """One server for the module (starting one takes a second or two); each test checks its own folder."""
    c = Client(tmp_path_factory.mktemp("lsp") / "server.log")
    try:
        result = c.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        caps = result["capabilities"]
        assert caps["hoverProvider"] and caps["definitionProvider"]
        c.notify("initialized", {})
        yield c
    finally:
        c.close()


@pytest.fixture
def client(server: Client, rules: Path) -> Client:
    assert server.proc.poll() is None, "the language server has died"
    return server


def test_diagnostics_are_published_and_cleared(client: Client, rules: Path) -> None:
    extra, mini = (rules / "extra.peel").as_uri(), (rules / "mini.peel").as_uri()
    mark = client.mark()
    client.open(extra, EXTRA_TYPO)
    diags = client.diagnostics(extra, mark)
    assert [d["code"] for d in diags] == ["PR201"]
    assert diags[0]["range"] == lsp_range(where(EXTRA_TYPO, "contact.answers_99"), len("contact.answers_99"))
    assert diags[0]["severity"] == 1
    assert "did you mean 'answers_999'?" in diags[0]["message"]  # the hint travels with the message
    assert client.diagnostics(mini, mark) == []  # every file of the rule set gets its list

    mark = client.mark()
    client.change(extra, EXTRA)
    assert client.diagnostics(extra, mark) == []


def test_syntax_error_position(client: Client, rules: Path) -> None:
    extra = (rules / "extra.peel").as_uri()
    broken = EXTRA.replace("calls.abandoned < 5", "calls.abandoned < < 5")
    mark = client.mark()
    client.open(extra, broken)
    diags = client.diagnostics(extra, mark)
    assert [d["code"] for d in diags] == ["PR101"]
    assert diags[0]["range"] == lsp_range(where(broken, "<", 1), 1)


def test_an_edit_shows_errors_in_the_other_files_of_the_set(client: Client, rules: Path) -> None:
    extra, mini = (rules / "extra.peel").as_uri(), (rules / "mini.peel").as_uri()
    text = (rules / "mini.peel").read_text(encoding="utf-8")
    renamed = text.replace("answers_999", "answers_fast")
    mark = client.mark()
    client.open(mini, renamed)
    diags = client.diagnostics(extra, mark)  # extra.peel is not open: it is read from disk
    assert [d["code"] for d in diags] == ["PR201"]
    assert diags[0]["range"] == lsp_range(where(EXTRA, "contact.answers_999"), len("contact.answers_999"))
    mark = client.mark()
    client.change(mini, text)
    assert client.diagnostics(extra, mark) == []


def test_hover_on_a_rule_reference(client: Client, rules: Path) -> None:
    extra = (rules / "extra.peel").as_uri()
    mark = client.mark()
    client.open(extra, EXTRA)
    client.diagnostics(extra, mark)
    line, col = where(EXTRA, "answers_999")
    hover = client.at("textDocument/hover", extra, (line, col + 2))
    text = hover["contents"]["value"]
    assert "999 calls are answered to the national standard" in text  # the title
    assert "Mini framework 1.1" in text  # the cite
    assert "characteristic" in text
    assert "`calls.answered_in_10s` (percent): 999 calls answered within 10 seconds" in text  # evidence it reads
    assert "`calls.answering` (assessment)" in text
    assert hover["range"] == lsp_range(where(EXTRA, "contact.answers_999"), len("contact.answers_999"))


def test_definition_of_a_rule_reference(client: Client, rules: Path) -> None:
    extra, mini = (rules / "extra.peel").as_uri(), (rules / "mini.peel").as_uri()
    text = (rules / "mini.peel").read_text(encoding="utf-8")
    mark = client.mark()
    client.open(extra, EXTRA)
    client.diagnostics(extra, mark)
    locations = client.at("textDocument/definition", extra, where(EXTRA, "contact.answers_999"))
    assert locations == [{"uri": mini, "range": lsp_range(where(text, "answers_999"), len("answers_999"))}]


def test_hover_and_definition_in_one_file(client: Client, rules: Path) -> None:
    mini = (rules / "mini.peel").as_uri()
    text = (rules / "mini.peel").read_text(encoding="utf-8")
    mark = client.mark()
    client.open(mini, text)
    assert client.diagnostics(mini, mark) == []

    # an evidence item: type, description, range
    use = where(text, "calls.answered_in_10s >= answer_standard")
    hover = client.at("textDocument/hover", mini, use)["contents"]["value"]
    assert "percent" in hover and "999 calls answered within 10 seconds" in hover and "0% to 100%" in hover
    assert client.at("textDocument/definition", mini, use) == [
        {"uri": mini, "range": lsp_range(where(text, "answered_in_10s"), len("answered_in_10s"))}]

    # a constant
    use = where(text, "answer_standard", 1)
    assert "90%" in client.at("textDocument/hover", mini, use)["contents"]["value"]
    assert client.at("textDocument/definition", mini, use) == [
        {"uri": mini, "range": lsp_range(where(text, "answer_standard"), len("answer_standard"))}]

    # a ladder named by `grade by`
    use = where(text, "simple", 1)
    assert client.at("textDocument/definition", mini, use) == [
        {"uri": mini, "range": lsp_range(where(text, "simple"), len("simple"))}]

    # a rule named without its area, inside the area
    use = where(text, "answers_999", 1)
    assert client.at("textDocument/definition", mini, use) == [
        {"uri": mini, "range": lsp_range(where(text, "answers_999"), len("answers_999"))}]

    # a counter in a ladder and a function: described, but defined nowhere
    use = where(text, "innovative >= 1")
    assert "innovative practices found" in client.at("textDocument/hover", mini, use)["contents"]["value"]
    assert client.at("textDocument/definition", mini, use) is None
    use = where(text, "lower(audit.grounds)")
    assert "confidence interval" in client.at("textDocument/hover", mini, use)["contents"]["value"]

    # white space: nothing
    assert client.at("textDocument/hover", mini, (0, 0)) is None


def test_columns_are_utf16_code_units(client: Client, rules: Path) -> None:
    extra = (rules / "extra.peel").as_uri()
    # the emoji is one code point but two UTF-16 code units, so the error starts one unit further right
    text = EXTRA.replace('"Uses the contact rule" {', '"\U0001F600" { when calls.nope cite "x" }\n  '
                         'characteristic other "Other" {')
    mark = client.mark()
    client.open(extra, text)
    diags = client.diagnostics(extra, mark)
    assert [d["code"] for d in diags] == ["PR203"]
    line, col = where(text.replace("\U0001F600", "xx"), "calls.nope")
    assert diags[0]["range"] == lsp_range((line, col), len("calls.nope"))


# ---------------------------------------------------------------- without a server: the resolver against the checker


def _refs(e: Any) -> Iterator[Any]:
    """Every node of an expression tree."""
    if e is None:
        return
    yield e
    for f in dataclasses.fields(e):
        value = getattr(e, f.name)
        for v in value if isinstance(value, tuple) else (value,):
            if dataclasses.is_dataclass(v) and not isinstance(v, Span):
                yield from _refs(v)


@pytest.mark.parametrize("folder", [ROOT / "rules" / "peel-2021-22", ROOT / "rules" / "peel-2023-25", DATA / "mini.peel"],
                         ids=["shipped", "shipped-2023-25", "mini"])
def test_every_reference_resolves_as_the_checker_resolves_it(folder: Path) -> None:
    from peelrules import check_rules, parse_rules
    from peelrules import nodes as n
    from peelrules.loader import rule_sources
    from peelrules.lsp import Index, symbol_at

    sources = rule_sources(folder)
    program = check_rules(sources)
    expected: dict[tuple[str, int, int], tuple[str, str]] = {}
    for area in program.areas:
        exprs = [e for r in area.rules for e in (r.when, r.exceeded_when)]
        exprs += [r.condition for r in area.ladder.rungs] if area.ladder else []
        for node in (x for e in exprs for x in _refs(e)):
            meaning = {n.FactRef: lambda x: ("evidence", x.name), n.ConstRef: lambda x: ("constant", x.key),
                       n.RuleRef: lambda x: ("rule", x.key), n.CounterRef: lambda x: ("counter", x.name),
                       n.AssessmentLit: lambda x: ("band" if x.value in OUTLIER_BANDS else "assessment",
                                                   x.value)}.get(type(node))
            if meaning is not None:
                expected[(node.span.file, node.span.line, node.span.column)] = meaning(node)
    assert len(expected) > 10
    modules = {p.module.file: p.module for p in parse_rules(sources)}
    index = Index.build(list(modules.values()))
    for (file, line, column), meaning in expected.items():
        hit = symbol_at(index, modules[file], (line, column + 1))
        assert hit is not None and (hit[0].kind, hit[0].key) == meaning, (file, line, column)


def test_the_2023_25_rule_set_opens_clean_and_resolves_across_its_files(server: Client, tmp_path: Path) -> None:
    """Every file of the shipped PEEL 2023-25 set, opened in the editor, shows no diagnostics (`peel check --strict`
    passes on it); a reference from one area to a rule of another file hovers and jumps to that file."""
    folder = tmp_path / "peel-2023-25"
    shutil.copytree(ROOT / "rules" / "peel-2023-25", folder)
    for path in sorted(folder.glob("*.peel")):
        mark = server.mark()
        server.open(path.as_uri(), path.read_text(encoding="utf-8"))
        assert server.diagnostics(path.as_uri(), mark) == [], path.name
    responding = folder / "06-responding-to-the-public.peel"
    text = responding.read_text(encoding="utf-8")
    ref = "victim_service_assessment.answers_calls_promptly"
    line, col = where(text, ref)
    hover = server.at("textDocument/hover", responding.as_uri(), (line, col + len(ref) - 3))
    assert "characteristic" in hover["contents"]["value"]
    assert hover["range"] == lsp_range((line, col), len(ref))
    victim = folder / "02-victim-service.peel"
    vtext = victim.read_text(encoding="utf-8")
    rule = f"characteristic {ref.split('.')[1]}"
    locations = server.at("textDocument/definition", responding.as_uri(), (line, col + len(ref) - 3))
    start = where(vtext, rule)
    name_at = (start[0], start[1] + len("characteristic "))
    assert locations == [{"uri": victim.as_uri(), "range": lsp_range(name_at, len(ref.split(".")[1]))}]
