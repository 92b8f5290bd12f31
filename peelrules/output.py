"""Writing results safely: to a temporary file beside the target, then renamed over it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .diagnostics import Diagnostic, PeelError


def write_atomic(path: Path, text: str, inputs: list[Path] = ()) -> None:  # type: ignore[assignment]
    """Write text to path in one step; never overwrite an input, never leave a partial file."""
    target = path.resolve()
    for p in inputs:
        try:
            same = p.resolve() == target
        except OSError:
            same = False
        if same:
            raise PeelError([Diagnostic("PR401", f"refusing to overwrite the input file '{path}'", None,
                                        "choose another --out path")])
    if target.is_dir():
        raise PeelError([Diagnostic("PR401", f"'{path}' is a directory", None, "give a file name for --out")])
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise PeelError([Diagnostic("PR401", f"cannot write in '{directory}': {err.strerror or err}", None,
                                    "check that the folder exists and is writable")]) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
