"""Bundles per second: the reference interpreter against the compiled evaluator.

    /work/main/.venv/bin/python bench/run.py [--seconds S] [--bundles N] [--seed K] [--clock wall|cpu]

Workloads:
  synthetic   a generated rule set of 10 areas and 110 rules (6 characteristics, 3 areas for improvement,
              a cause of concern and an innovative practice per area; cross-area references; a shared
              ladder like the shipped one), with N generated bundles in two forms:
                complete  every fact given
                sparse    8% of facts missing (so unknowns, interval counters and undetermined areas)
              a fifth of the bundles mark one area not inspected
  lancashire  the shipped rules (rules/peel-2021-22) with evidence/lancashire-2022.yaml
  batch       `peel evaluate FOLDER --format csv --jobs 1` against `--jobs 2` as whole processes, on a folder of
              B copies of evidence/lancashire-2022.yaml (each with its own force name; sources/ linked beside
              them so that quotes are checked as usual); median of R runs each, in turn (--batch-bundles 0: skip)

Each evaluator's results are first checked equal on every bundle; then each is timed over all bundles for at
least S seconds, best of three runs, by the wall clock (default) or this process's CPU time (steadier on a
shared machine). See bench/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import peelrules
from peelrules.compile import clear_cache, compile_program
from peelrules.evaluate import Evaluator
from peelrules.evidence import Bundle, load_bundle
from peelrules.program import Program
from peelrules.result import BundleResult
from peelrules.source import SourceFile

ROOT = Path(__file__).resolve().parent.parent
LANCASHIRE = ROOT / "evidence" / "lancashire-2022.yaml"
AREAS = 10
ASSESSMENTS = ("not_met", "partly_met", "met", "exceeded")

# ---------------------------------------------------------------- the synthetic workload

HEADER = '''framework bench "Benchmark framework" { version "1" }

let substantially_all = 75%
let some = 50%
let several_improvements = 3
let substantial_number = 5
let substantially_exceeds = 50%
let answer_standard = 90%
let survey_standard = 80%

ladder standard {
  inadequate           when concerns >= 1 or severe >= 1
  requires_improvement when met / characteristics < some or improvements >= substantial_number
  adequate             when met / characteristics < substantially_all or improvements >= several_improvements
  outstanding          when exceeded / characteristics >= substantially_exceeds and innovative >= 1
  good                 otherwise
}
'''

FACTS = {  # name: type, per area
    "calls_answered": "count", "calls_offered": "count", "answered_in_time": "percent",
    "files_correct": "ratio", "survey": "estimate", "supervision": "assessment", "updates": "assessment",
    "needs_assessed": "assessment", "triage_tool": "flag", "innovation": "flag", "repeat_victims": "number",
}


def synthetic_rules() -> str:
    parts = [HEADER]
    for i in range(AREAS):
        decls = "\n".join(f'  {name}: {ty} "{name.replace("_", " ")} in area {i}"' for name, ty in FACTS.items())
        parts.append(f"evidence s{i} {{\n{decls}\n}}\n")
        parts.append(_area(i))
    return "\n".join(parts)


def _area(i: int) -> str:
    e = f"s{i}"
    previous = f"area{i - 1}.supervised" if i else "true"
    return f'''area area{i} "Area {i}" {{
  grade by standard
  characteristic answers_calls "Calls are answered in time" {{
    when first_known({e}.answered_in_time >= answer_standard, {e}.calls_answered / {e}.calls_offered >= 90%)
    exceeded when {e}.answered_in_time >= 98%
  }}
  characteristic files_correct "Case files are correct" {{
    when {e}.files_correct >= 90% and sample({e}.files_correct) >= 20
  }}
  characteristic victims_satisfied "Victims are satisfied" {{
    when lower({e}.survey) >= survey_standard
    exceeded when lower({e}.survey) >= 90%
  }}
  characteristic supervised "Investigations are supervised" {{
    when {e}.supervision >= met
    exceeded when {e}.supervision is exceeded
  }}
  characteristic victims_updated "Victims are updated" {{
    when {e}.updates in [met, exceeded] and {previous}
  }}
  characteristic needs_assessed "Needs are assessed" {{
    when {e}.needs_assessed >= partly_met and not ({e}.repeat_victims > 10)
  }}
  area_for_improvement answering "Answer calls faster" {{
    when not answers_calls
  }}
  area_for_improvement supervision "Supervise investigations" {{
    when not supervised or {e}.updates < met
  }}
  area_for_improvement assessing "Assess victims' needs" {{
    when not needs_assessed and present({e}.needs_assessed)
  }}
  cause_of_concern no_triage "No structured triage" {{
    when {e}.triage_tool is false and {e}.calls_offered > 100
    recommendation "Adopt a structured triage tool."
  }}
  innovative_practice new_tool "A new tool for victims" {{
    when {e}.innovation is true
  }}
}}
'''


def synthetic_bundle(rng: random.Random, index: int, missing: float) -> str:
    facts: dict[str, dict] = {}
    for i in range(AREAS):
        for name, ty in FACTS.items():
            if rng.random() < missing:
                continue
            facts[f"s{i}.{name}"] = {**_value(rng, ty), "source": f"report:L{rng.randint(1, 400)}"}
    areas = {f"area{rng.randrange(AREAS)}": {"status": "not_inspected"}} if rng.random() < 0.2 else {}
    return json.dumps({"force": f"Force {index}", "framework": "bench", "sources": {"report": {"title": "R"}},
                       "areas": areas, "facts": facts})


def _value(rng: random.Random, ty: str) -> dict:
    if ty == "count":
        return {"value": rng.randint(0, 200)}
    if ty == "number":
        return {"value": rng.randint(0, 20)}
    if ty == "percent":
        return {"value": f"{rng.randint(70, 100)}%"}
    if ty == "ratio":
        n = rng.randint(0, 60)
        return {"k": rng.randint(int(n * 0.8), n), "n": n}
    if ty == "estimate":
        return {"estimate": f"{rng.randint(70, 99)}%", "ci": f"{rng.randint(1, 8)}%", "sample": rng.randint(10, 300)}
    if ty == "assessment":
        return {"assessment": rng.choice(ASSESSMENTS)}
    return {"value": rng.random() < 0.7}


def synthetic(count: int, seed: int, missing: float) -> tuple[Program, list[Bundle]]:
    program = peelrules.check_rules([SourceFile("bench/synthetic.peel", synthetic_rules())])
    rng = random.Random(seed)
    texts = [synthetic_bundle(rng, i, missing) for i in range(count)]
    return program, [load_bundle(SourceFile(f"bundle{i}.json", t), program) for i, t in enumerate(texts)]


def lancashire() -> tuple[Program, list[Bundle]]:
    program = peelrules.load_rules()
    return program, [peelrules.load_evidence(LANCASHIRE, program)]


# ---------------------------------------------------------------- timing


CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}


def rate(run: Callable[[Bundle], BundleResult], bundles: list[Bundle], seconds: float,
         clock: Callable[[], float]) -> float:
    """Bundles per second: best of three runs, each at least `seconds` long."""
    best = 0.0
    for _ in range(3):
        done, start = 0, clock()
        while True:
            for b in bundles:
                run(b)
            done += len(bundles)
            elapsed = clock() - start
            if elapsed >= seconds:
                break
        best = max(best, done / elapsed)
    return best


def compile_seconds(program: Program) -> float:
    clear_cache()
    start = time.perf_counter()
    compile_program(program)
    return time.perf_counter() - start


def measure(name: str, program: Program, bundles: list[Bundle], seconds: float, clock: Callable[[], float]) -> None:
    interpreter = Evaluator(program)
    compiled = compile_program(program)
    for b in bundles:
        assert compiled.run(b) == interpreter.run(b)[0], f"{name}: results differ on {b.file}"
    slow = rate(lambda b: interpreter.run(b)[0], bundles, seconds, clock)
    fast = rate(compiled.run, bundles, seconds, clock)
    rules = sum(len(a.rules) for a in program.areas)
    print(f"{name:<20} {len(program.areas):>5} {rules:>5} {len(bundles):>7} {slow:>13,.0f} {fast:>13,.0f} "
          f"{fast / slow:>7.1f}x {compile_seconds(program) * 1000:>9.1f}")


def batch(bundles: int, runs: int) -> None:
    """(d) a batch of `bundles` Lancashire copies: `--jobs 1` against `--jobs 2`, whole processes, in turn."""
    peel = Path(sys.executable).parent / "peel"
    text = LANCASHIRE.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="peel-bench-batch-") as tmp:
        folder = Path(tmp) / "evidence"
        folder.mkdir()
        (folder / "sources").symlink_to(LANCASHIRE.parent / "sources")
        shutil.copytree(LANCASHIRE.parent / "comparators", folder / "comparators")  # refused through a symlink
        shutil.copytree(LANCASHIRE.parent / "tables", folder / "tables")  # the case-level tables, likewise
        for i in range(bundles):
            (folder / f"lancashire-{i:04d}.yaml").write_text(
                text.replace("force: Lancashire Constabulary", f"force: Lancashire Constabulary {i:04d}", 1),
                encoding="utf-8")
        times: dict[str, list[float]] = {"1": [], "2": []}
        outputs: dict[str, bytes] = {}
        for i in range(runs + 1):  # the first round untimed: it fills the disk cache with these new bundles
            for jobs in times:
                out = Path(tmp) / f"jobs{jobs}.csv"
                start = time.perf_counter()
                subprocess.run([str(peel), "evaluate", str(folder), "--format", "csv", "--quiet", "--jobs", jobs,
                                "--out", str(out)], check=True)
                if i:
                    times[jobs].append(time.perf_counter() - start)
                outputs[jobs] = out.read_bytes()
        assert outputs["1"] == outputs["2"], "--jobs 2 wrote other bytes than --jobs 1"
    one, two = statistics.median(times["1"]), statistics.median(times["2"])
    print(f"batch of {bundles} bundles (median of {runs}): --jobs 1 {one:.2f} s ({bundles / one:,.0f} bundles/s), "
          f"--jobs 2 {two:.2f} s ({bundles / two:,.0f} bundles/s): --jobs 2 is {one / two:.2f}x --jobs 1; "
          f"outputs identical")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, {cpu}, "
            f"{os.cpu_count()} CPUs, load average {load:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum time per timed run (default 1)")
    parser.add_argument("--bundles", type=int, default=200, help="synthetic bundles (default 200)")
    parser.add_argument("--seed", type=int, default=2022, help="seed of the synthetic bundles")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="what a second is (default wall)")
    parser.add_argument("--batch-bundles", type=int, default=1000, help="bundles of the batch workload (0: skip)")
    parser.add_argument("--batch-runs", type=int, default=3, help="runs of each --jobs in the batch workload")
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    print(machine() + f"; {args.clock} clock")
    print(f"{'workload':<20} {'areas':>5} {'rules':>5} {'bundles':>7} {'interpreter/s':>13} {'compiled/s':>13} "
          f"{'speedup':>8} {'compile ms':>9}")
    measure("synthetic complete", *synthetic(args.bundles, args.seed, 0.0), args.seconds, clock)
    measure("synthetic sparse", *synthetic(args.bundles, args.seed, 0.08), args.seconds, clock)
    measure("lancashire", *lancashire(), args.seconds, clock)
    sys.stdout.flush()
    if args.batch_bundles > 0:
        batch(args.batch_bundles, args.batch_runs)


if __name__ == "__main__":
    main()
