"""`peel cache dir|clear`: where the disk cache is, and emptying it."""
from __future__ import annotations

from . import EXIT_OK, IO


def run_cache_dir(io: IO) -> int:
    from .. import cache

    io.print(str(cache.cache_dir()))
    return EXIT_OK


def run_cache_clear(io: IO) -> int:
    from .. import cache

    n = cache.clear()
    io.print(f"deleted {n} cache entr{'y' if n == 1 else 'ies'} from {cache.cache_dir()}")
    return EXIT_OK
