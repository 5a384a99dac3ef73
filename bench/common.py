"""What every benchmark shares: where the repository, the shared data and the results are, and how a
benchmark reports (progress on stderr; a table, then one JSON object, on stdout; the JSON also saved)."""
from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"  # read in place, never copied into the repository
RESULTS = ROOT / "bench" / "results"


def log(message: str) -> None:
    """Progress for the person watching, on stderr, so stdout stays the result."""
    print(message, file=sys.stderr, flush=True)


def publish(name: str, result: dict[str, Any], table: str) -> None:
    """Print the markdown table and the JSON, and keep the JSON as bench/results/<name>.json."""
    print(table)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


def exit_on_sigterm() -> None:
    """SIGTERM (a timeout, `kill`) exits through the ``finally`` blocks, so a benchmark's embedded
    PostgreSQL server is stopped instead of left running."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
