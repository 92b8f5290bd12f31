"""`peel fmt`: rewrite rule files in the canonical layout (in place, atomically, keeping each file's mode), or
with --check / --diff say which would change and write nothing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..diagnostics import PeelError, safe
from ..output import write_atomic
from . import EXIT_FAILED, EXIT_INPUT, EXIT_OK, IO


@dataclass(frozen=True)
class FmtOptions:
    paths: tuple[Path, ...]
    check_only: bool = False
    show_diff: bool = False


def run_fmt(opts: FmtOptions, io: IO) -> int:
    from ..fmt import FormatError, format_paths, unified_diff

    dry = opts.check_only or opts.show_diff
    try:
        results = format_paths(list(opts.paths))
        changed = [r for r in results if r.changed]
        for result in changed:
            if opts.show_diff:
                io.print(unified_diff(result), nl=False)
            if dry:
                io.say(f"would reformat {safe(str(result.path))}")
            else:
                write_atomic(result.path, result.after, keep_mode_of=result.path)
                io.say(f"reformatted {safe(str(result.path))}")
    except PeelError as err:
        return io.fail(err)
    except FormatError as err:
        io.say(f"error: {err} (a bug in peel fmt: the file was left as it is)")
        return EXIT_INPUT
    done = "would be reformatted" if dry else "reformatted"
    io.say(f"{len(changed)} of {len(results)} file{'s' if len(results) != 1 else ''} {done}.")
    return EXIT_FAILED if opts.check_only and changed else EXIT_OK
