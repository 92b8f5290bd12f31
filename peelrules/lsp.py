"""The language server for .peel rule files: diagnostics, hover and go-to-definition, over stdio.

Editors start `peel-lsp` (or `python -m peelrules.lsp`) and speak LSP to it on stdin/stdout. The protocol side
is pygls 2.x, an optional dependency (`pip install 'peelrules[lsp]'`); nothing in the package imports this
module, so the core never needs pygls.

A document is always checked with its rule set, as `peel --rules FOLDER` would check it: every `.peel` file of
its folder, read from disk unless the editor has the file open, in which case the editor's text is used.
Diagnostics are published for every file of the set, so an edit that breaks a reference in another file is
shown there, and cleared there when it is fixed.

Hover and definition read the parsed files, not the checked program, so they keep working while the rule set
has errors (a program exists only when there are none). Names are looked up by symbols.py, the resolver the
checker uses too; here it only finds definitions, it never reports or types anything.
Positions: spans are 1-based lines and code-point columns, end exclusive; LSP positions are 0-based and
counted in the client's position encoding (UTF-16 unless negotiated otherwise), converted by pygls's codec.
"""
from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import PositionCodec

from . import __version__, check_rules, parse_rules
from . import nodes as n
from .diagnostics import Diagnostic, PeelError, Severity
from .grades import Grade
from .loader import read_source
from .vocabulary import (ASSESSMENTS, COUNTERS, EVIDENCE_TYPES, FUNCTIONS, INTERVAL_METHODS, OUTLIER_BANDS,
                         PEER_FUNCTIONS)
from .source import NO_SPAN, SourceFile, Span
from .symbols import Scope, Symbol, SymbolTable
from .unparse import unparse

RULE_SUFFIX = ".peel"
CHANGE_DELAY = 0.15  # seconds of quiet after an edit before the rule set is checked again

Pos = tuple[int, int]  # 1-based line and code-point column, as in Span

# ---------------------------------------------------------------- the rule set a document belongs to


@dataclass(frozen=True)
class Analysis:
    """One check of a rule set: its sources, what they parse to, and the diagnostics of each file."""

    key: str  # the folder (or, for an editor buffer with no file, its URI)
    uris: dict[str, str]  # source name -> URI
    sources: dict[str, SourceFile]  # source name -> text as checked
    modules: dict[str, n.Module]  # source name -> parsed (with syntax errors recovered)
    diagnostics: dict[str, list[Diagnostic]]  # URI -> diagnostics, one entry for every file of the set
    index: "Index"

    def name_of(self, uri: str) -> str | None:
        for name, u in self.uris.items():
            if _same_document(u, uri):
                return name
        return None


def _fs_path(uri: str) -> Path | None:
    if not uri.startswith("file:"):
        return None
    path = to_fs_path(uri)
    return Path(path) if path else None


def _same_document(a: str, b: str) -> bool:
    if a == b:
        return True
    pa, pb = _fs_path(a), _fs_path(b)
    return pa is not None and pb is not None and os.path.normcase(str(pa)) == os.path.normcase(str(pb))


def is_rule_document(uri: str) -> bool:
    """A `.peel` file, or an editor buffer with no file (the client chose to send it)."""
    path = _fs_path(uri)
    return path is None or path.suffix == RULE_SUFFIX


def set_key(uri: str) -> str:
    """What identifies the rule set of a document: its folder, or its URI when it has no file."""
    path = _fs_path(uri)
    return str(path.parent) if path is not None else uri


def analyse(uri: str, open_texts: Mapping[str, str]) -> Analysis:
    """Check the rule set of document `uri`; `open_texts` holds the editor's text of open documents by URI."""
    sources: list[SourceFile] = []
    uris: dict[str, str] = {}
    unreadable: dict[str, list[Diagnostic]] = {}
    path = _fs_path(uri)
    if path is None:  # an editor buffer with no file: check it alone
        if uri in open_texts:
            sources.append(SourceFile(uri, _lf(open_texts[uri])))
            uris[uri] = uri
    else:
        folder = path.parent
        opened = {os.path.normcase(str(p)): (u, text) for u, text in open_texts.items()
                  if (p := _fs_path(u)) is not None and p.parent == folder and p.suffix == RULE_SUFFIX}
        try:
            on_disk = [p for p in folder.iterdir() if p.suffix == RULE_SUFFIX and p.is_file()]
        except OSError:
            on_disk = []
        names = {os.path.normcase(str(p)): p for p in on_disk}
        names.update({k: Path(to_fs_path(u) or k) for k, (u, _) in opened.items() if k not in names})
        for k, p in sorted(names.items(), key=lambda kv: kv[1].name):  # the loader's order: by file name
            name = str(p)
            if k in opened:
                u, text = opened[k]
                uris[name] = u
                sources.append(SourceFile(name, _lf(text)))
                continue
            uris[name] = from_fs_path(name) or name
            try:
                sources.append(read_source(p, name))
            except PeelError as err:
                unreadable[uris[name]] = list(err.diagnostics)
    diags: dict[str, list[Diagnostic]] = {u: list(unreadable.get(u, [])) for u in uris.values()}
    if sources:
        try:
            check_rules(sources)
        except PeelError as err:
            for d in err.diagnostics:
                target = uris.get(d.span.file, uri) if d.span is not None else uri
                diags.setdefault(target, []).append(d)
    modules = {p.module.file: p.module for p in parse_rules(sources)}
    return Analysis(set_key(uri), uris, {s.name: s for s in sources}, modules, diags,
                    Index.build(list(modules.values())))


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n")


# ---------------------------------------------------------------- names and what they mean


class Index(SymbolTable):
    """The rule set's definitions (symbols.SymbolTable, the checker's resolver), and what the editor asks of them."""

    def evidence_read(self, area: str, rule: n.Rule) -> list[n.EvidenceDecl]:
        """The evidence items a rule's conditions read, directly or through the rules they refer to."""
        found: dict[str, n.EvidenceDecl] = {}
        seen: set[str] = set()
        todo = [(area, rule)]
        while todo:
            a, r = todo.pop()
            if f"{a}.{r.name}" in seen:
                continue
            seen.add(f"{a}.{r.name}")
            for cond in (r.when, r.exceeded_when):
                for ref in _names(cond):
                    sym = self.resolve(ref.parts, Scope(a))
                    if sym is None:
                        continue
                    if sym.kind == "evidence":
                        found[sym.key] = sym.node  # type: ignore[assignment]
                    elif sym.kind == "rule" and sym.area is not None:
                        todo.append((sym.area, sym.node))  # type: ignore[arg-type]
        return [found[k] for k in sorted(found)]


def _children(e: n.Expr) -> tuple[n.Expr, ...]:
    if isinstance(e, n.Unary):
        return (e.operand,)
    if isinstance(e, n.Binary):
        return (e.left, e.right)
    if isinstance(e, n.InList):
        return (e.item, *e.options)
    if isinstance(e, n.Call):
        return e.args
    return ()


def _names(e: n.Expr | None) -> Iterator[n.Name]:
    if e is None:
        return
    if isinstance(e, n.Name):
        yield e
    for child in _children(e):
        yield from _names(child)


def _contains(span: Span, pos: Pos) -> bool:
    return span.line > 0 and (span.line, span.column) <= pos < (span.end_line, span.end_column)


def _expr_at(e: n.Expr | None, pos: Pos) -> n.Expr | None:
    """The smallest expression node whose span holds the position."""
    if e is None or not _contains(e.span, pos):
        return None
    for child in _children(e):
        hit = _expr_at(child, pos)
        if hit is not None:
            return hit
    return e


def _symbol_of(ix: Index, e: n.Expr, scope: Scope) -> Symbol | None:
    if isinstance(e, n.Name):
        return ix.resolve(e.parts, scope)
    if isinstance(e, n.Call) and e.func in FUNCTIONS:
        return Symbol("function", e.func)
    return None


def symbol_at(ix: Index, module: n.Module, pos: Pos) -> tuple[Symbol, Span] | None:
    """What is under the cursor in a module, and the span of the word or expression it was read from."""
    hit = _symbol_at(ix, module, pos)
    if hit is None and pos[1] > 1:  # a cursor just after a word (end exclusive) still means that word
        hit = _symbol_at(ix, module, (pos[0], pos[1] - 1))
    return hit


def _symbol_at(ix: Index, module: n.Module, pos: Pos) -> tuple[Symbol, Span] | None:
    for item in module.items:
        hit = _item_at(ix, item, pos)
        if hit is not None:
            return hit
    return None


def _in_expr(ix: Index, e: n.Expr | None, pos: Pos, scope: Scope) -> tuple[Symbol, Span] | None:
    node = _expr_at(e, pos)
    sym = _symbol_of(ix, node, scope) if node is not None else None
    return (sym, node.span) if sym is not None and node is not None else None


def _item_at(ix: Index, item: object, pos: Pos, area: str | None = None) -> tuple[Symbol, Span] | None:
    if isinstance(item, n.Framework):
        return (Symbol("framework", item.name, item), item.span) if _contains(item.span, pos) else None
    if isinstance(item, n.EvidenceDecl):
        if _contains(item.span, pos):
            return Symbol("evidence", item.name, item), item.span
        if _contains(item.type_span, pos):
            return Symbol("type", item.type), item.type_span
        return None
    if isinstance(item, n.Let):
        if _contains(item.span, pos):
            return Symbol("constant", f"{area}.{item.name}" if area else item.name, item, area), item.span
        return _in_expr(ix, item.expr, pos, Scope(area, constant=True))
    if isinstance(item, n.Ladder):
        if _contains(item.span, pos):
            return Symbol("ladder", item.name, item, area), item.span
        for rung in item.rungs:
            if _contains(rung.span, pos):
                return Symbol("grade", rung.grade), rung.span
            if hit := _in_expr(ix, rung.condition, pos, Scope(area, ladder=True)):
                return hit
        return None
    if isinstance(item, n.Rule):
        assert area is not None
        if _contains(item.span, pos):
            return Symbol("rule", f"{area}.{item.name}", item, area), item.span
        return (_in_expr(ix, item.when, pos, Scope(area))
                or _in_expr(ix, item.exceeded_when, pos, Scope(area)))
    if isinstance(item, n.Area):
        if item.extent.line and not _contains(item.extent, pos):
            return None
        if _contains(item.span, pos):
            return Symbol("area", item.name, item), item.span
        if item.grade_by and _contains(item.grade_by_span, pos):
            lad = ix.ladder_for(item.name, item.grade_by)
            return (Symbol("ladder", item.grade_by, lad), item.grade_by_span) if lad else None
        for sub in (*item.ladders, *item.lets, *item.rules):
            if hit := _item_at(ix, sub, pos, item.name):
                return hit
    return None


# ---------------------------------------------------------------- hover text


def hover_text(ix: Index, sym: Symbol) -> str:
    """Markdown describing a symbol."""
    node = sym.node
    if sym.kind == "rule" and isinstance(node, n.Rule):
        lines = [f"**{node.kind.replace('_', ' ')}** `{sym.key}`", "", node.title]
        if node.cite:
            lines += ["", f"cite: {node.cite}"]
        if node.severe:
            lines += ["", "severe: yes"]
        if node.recommendation:
            lines += ["", f"recommendation: {node.recommendation}"]
        reads = ix.evidence_read(sym.area or "", node)
        if reads:
            lines += ["", "reads evidence:"]
            lines += [f"- `{d.name}` ({d.type}): {d.description}" for d in reads]
        return "\n".join(lines)
    if sym.kind == "evidence" and isinstance(node, n.EvidenceDecl):
        return _evidence_text(node)
    if sym.kind == "constant" and isinstance(node, n.Let):
        where = f" (area `{sym.area}`)" if sym.area else ""
        return f"**constant** `{node.name}`{where}\n\n```peel\nlet {node.name} = {unparse(node.expr)}\n```"
    if sym.kind == "ladder" and isinstance(node, n.Ladder):
        rungs = [f"  {r.grade} " + (f"when {unparse(r.condition)}" if r.condition is not None else "otherwise")
                 for r in node.rungs]
        return "\n".join([f"**ladder** `{node.name}`", "", "```peel", f"ladder {node.name} {{", *rungs, "}", "```"])
    if sym.kind == "area" and isinstance(node, n.Area):
        lines = [f"**area** `{node.name}`", "", node.title]
        if node.question:
            lines += ["", f"question: {node.question}"]
        if node.aliases:
            lines += ["", "aliases: " + ", ".join(node.aliases)]
        graded = "ungraded" if node.ungraded else (f"graded by `{node.grade_by}`" if node.grade_by else "")
        if graded:
            lines += ["", graded]
        if node.optional:
            lines += ["", "optional: not inspected in a report that records no evidence for it"]
        return "\n".join(lines)
    if sym.kind == "framework" and isinstance(node, n.Framework):
        lines = [f"**framework** `{node.name}`", "", node.title]
        for label, value in (("version", node.version), ("publisher", node.publisher)):
            if value:
                lines += ["", f"{label}: {value}"]
        if node.effective_from:
            lines += ["", f"effective: {node.effective_from}" + (f" to {node.effective_to}" if node.effective_to
                                                                  else "")]
        if node.interval:
            lines += ["", f"interval: {node.interval} ({INTERVAL_METHODS.get(node.interval, 'unknown method')})"]
        if node.small_sample_below is not None:
            lines += ["", f"small_sample below {node.small_sample_below}: small_sample(x) holds for a sample below it"]
        return "\n".join(lines)
    if sym.kind == "counter":
        return f"**counter** `{sym.key}`: {COUNTERS[sym.key]}"
    if sym.kind == "function":
        signature, _, meaning = FUNCTIONS[sym.key].partition(": ")
        return f"**function** `{signature}`\n\n{meaning}"
    if sym.kind == "band":
        return f"**outlier band** `{sym.key}`: {OUTLIER_BANDS[sym.key]}\n\nbands: {', '.join(OUTLIER_BANDS)}"
    if sym.kind == "assessment":
        return f"**assessment value** `{sym.key}`\n\nweakest first: {' < '.join(ASSESSMENTS)}"
    if sym.kind == "grade":
        grade = Grade.from_key(sym.key)
        if grade is None:
            return f"`{sym.key}` is not a grade; grades are: {', '.join(g.key for g in Grade)}"
        return f"**grade** {grade.label}\n\nworst first: {' < '.join(g.key for g in Grade)}"
    if sym.kind == "type":
        seen = EVIDENCE_TYPES.get(sym.key)
        if seen is None:
            return f"`{sym.key}` is not an evidence type; types are: {', '.join(EVIDENCE_TYPES)}"
        return f"**evidence type** `{sym.key}`: conditions see it as {_a(seen)}"
    return f"`{sym.key}`"


def _evidence_text(d: n.EvidenceDecl) -> str:
    lines = [f"**evidence** `{d.name}`: {d.type}", "", d.description]
    if d.range_lo is not None and d.range_hi is not None:
        lines += ["", f"range: {_bound(d.range_lo, d.type)} to {_bound(d.range_hi, d.type)}"]
    if d.unit:
        lines += ["", f"unit: {d.unit}"]
    if d.context_only:
        lines += ["", "context only"]
    if d.type == "comparator":
        lines += ["", f"measure: {d.measure or d.name.split('.', 1)[-1]} (the bundle's comparators: file for it; "
                      "read with " + ", ".join(f"{f}()" for f in PEER_FUNCTIONS) + ")"]
    return "\n".join(lines)


def _bound(value: float, type_: str) -> str:
    return f"{value * 100:g}%" if type_ == "percent" else f"{value:g}"


def _a(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


# ---------------------------------------------------------------- the server


def _client_range(codec: PositionCodec, src: SourceFile | None, span: Span) -> lsp.Range:
    """A span (1-based, code points, end exclusive) as an LSP range (0-based, client units)."""
    if span.line <= 0:
        return lsp.Range(lsp.Position(0, 0), lsp.Position(0, 0))
    lines = src.text.split("\n") if src is not None else []

    def at(line: int, column: int) -> lsp.Position:
        row, col = line - 1, max(column - 1, 0)
        if row < len(lines):
            return codec.position_to_client_units(lines, lsp.Position(row, min(col, len(lines[row]))))
        return lsp.Position(row, col)

    return lsp.Range(at(span.line, span.column), at(span.end_line, span.end_column))


_SEVERITY = {Severity.ERROR: lsp.DiagnosticSeverity.Error, Severity.WARNING: lsp.DiagnosticSeverity.Warning}


class PeelLanguageServer(LanguageServer):
    """A pygls server that keeps the latest check of every rule set it has seen."""

    def __init__(self) -> None:
        super().__init__("peel-lsp", __version__, text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental)
        self.analyses: dict[str, Analysis] = {}
        self.published: dict[str, set[str]] = {}  # rule set key -> URIs given diagnostics
        self.pending: dict[str, asyncio.TimerHandle] = {}  # rule set key -> the check waiting for a pause

    def open_texts(self) -> dict[str, str]:
        return {uri: doc.source for uri, doc in self.workspace.text_documents.items()}

    def recheck(self, uri: str) -> Analysis:
        """Check the rule set of a document and publish diagnostics for every file of it."""
        key = set_key(uri)
        waiting = self.pending.pop(key, None)
        if waiting is not None:
            waiting.cancel()
        result = analyse(uri, self.open_texts())
        self.analyses[key] = result
        codec = self.workspace.position_codec
        by_uri = {u: name for name, u in result.uris.items()}
        for u, diags in result.diagnostics.items():
            src = result.sources.get(by_uri.get(u, ""))
            items = [lsp.Diagnostic(range=_client_range(codec, src, d.span or NO_SPAN),
                                    message=d.message + (f"\nhelp: {d.hint}" if d.hint else ""),
                                    severity=_SEVERITY.get(d.severity, lsp.DiagnosticSeverity.Error),
                                    code=d.code, source="peel")
                     for d in diags]
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=u, diagnostics=items))
        for gone in self.published.get(key, set()) - set(result.diagnostics):
            self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri=gone, diagnostics=[]))
        self.published[key] = set(result.diagnostics)
        return result

    def recheck_later(self, uri: str) -> None:
        """Check again once edits pause for CHANGE_DELAY seconds (typing does not wait for each check)."""
        key = set_key(uri)
        waiting = self.pending.pop(key, None)
        if waiting is not None:
            waiting.cancel()
        self.pending[key] = asyncio.get_running_loop().call_later(CHANGE_DELAY, self.recheck, uri)

    def current(self, uri: str) -> Analysis:
        """The check of the document's rule set, up to date with every edit."""
        key = set_key(uri)
        if key in self.pending or key not in self.analyses or self.analyses[key].name_of(uri) is None:
            return self.recheck(uri)
        return self.analyses[key]

    def lookup(self, uri: str, position: lsp.Position) -> tuple[Analysis, Symbol, Span] | None:
        if not is_rule_document(uri):
            return None
        result = self.current(uri)
        name = result.name_of(uri)
        module = result.modules.get(name or "")
        if module is None:
            return None
        doc = self.workspace.get_text_document(uri)
        at = doc.position_codec.position_from_client_units(doc.lines, position) if doc.lines else position
        hit = symbol_at(result.index, module, (at.line + 1, at.character + 1))
        return (result, *hit) if hit is not None else None

    def client_location(self, result: Analysis, span: Span) -> lsp.Location:
        uri = result.uris.get(span.file) or from_fs_path(span.file) or span.file
        return lsp.Location(uri, _client_range(self.workspace.position_codec, result.sources.get(span.file), span))


def make_server() -> PeelLanguageServer:
    """A server with its features registered; `start_io()` runs it."""
    server = PeelLanguageServer()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: PeelLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        if is_rule_document(params.text_document.uri):
            ls.recheck(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    async def did_change(ls: PeelLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        if is_rule_document(params.text_document.uri):
            ls.recheck_later(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: PeelLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
        if is_rule_document(params.text_document.uri):
            ls.recheck(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PeelLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
        if is_rule_document(params.text_document.uri):
            ls.recheck(params.text_document.uri)  # the file as saved on disk now stands for it, if it exists

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def hover(ls: PeelLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
        hit = ls.lookup(params.text_document.uri, params.position)
        if hit is None:
            return None
        result, sym, span = hit
        return lsp.Hover(contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=hover_text(result.index, sym)),
                         range=_client_range(ls.workspace.position_codec, result.sources.get(span.file), span))

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def definition(ls: PeelLanguageServer, params: lsp.DefinitionParams) -> list[lsp.Location] | None:
        hit = ls.lookup(params.text_document.uri, params.position)
        if hit is None:
            return None
        result, sym, _ = hit
        node = sym.node
        span = getattr(node, "span", None)
        if not isinstance(span, Span) or span.line <= 0:
            return None
        return [ls.client_location(result, span)]

    return server


def main(argv: list[str] | None = None) -> None:
    """`peel-lsp`: serve LSP on stdin/stdout until the client says exit."""
    parser = argparse.ArgumentParser(prog="peel-lsp", description="Language server for .peel rule files (stdio).")
    parser.add_argument("--stdio", action="store_true", help="use stdin/stdout (the default and only transport)")
    parser.parse_args(argv)
    make_server().start_io()


if __name__ == "__main__":
    main()
