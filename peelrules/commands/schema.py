"""`peel schema evidence|trace`: the JSON Schema of evidence bundles or of traces."""
from __future__ import annotations

import json

from . import EXIT_OK, IO


def run_schema(which: str, io: IO) -> int:
    from ..report.schemas import schema as schema_doc

    io.print(json.dumps(schema_doc(which), indent=2, sort_keys=True))
    return EXIT_OK
