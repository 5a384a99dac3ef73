"""`citebot ask --batch`: many questions through one loaded model, one `ask --json` object per line out.

Input is one question per line, or JSON Lines objects {"question", "since", "until", "source", "as_of"} (the
filters per line override the command-line ones); the two may be mixed. A bad line (not JSON, no
question, an invalid date, an empty question) yields {"line": N, "error": "..."} for that line and the
rest go on; blank lines are skipped.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, TextIO

from ..errors import UserError

FIELDS = ("question", "since", "until", "source", "as_of")


@dataclass
class BatchSummary:
    questions: int = 0
    errors: int = 0


def parse_line(line: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """The ask arguments of one input line; raises UserError for a line that cannot be asked."""
    text = line.strip()
    if not text.startswith("{"):
        return {**defaults, "question": text}
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(item, dict):
        raise UserError("a JSON line must be an object with a \"question\"")
    unknown = sorted(set(item) - set(FIELDS))
    if unknown:
        raise UserError(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(FIELDS)}")
    if not isinstance(item.get("question"), str):
        raise UserError("the object has no \"question\" text")
    for key in ("since", "until", "source", "as_of"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise UserError(f"\"{key}\" must be text")
    return {**defaults, **{k: v for k, v in item.items() if v is not None}}


def run(corpus: Any, lines: Iterable[str], out: TextIO, k: int | None = None,
        since: str | None = None, until: str | None = None, source: str | None = None,
        as_of: str | None = None) -> BatchSummary:
    """Answer every line of ``lines``, writing one JSON object per answered or failed line (flushed)."""
    summary = BatchSummary()
    defaults = {"since": since, "until": until, "source": source, "as_of": as_of}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        summary.questions += 1
        try:
            kwargs = parse_line(line, defaults)
            question = kwargs.pop("question")
            record = corpus.ask(question, k=k, **kwargs).to_json()
        except UserError as exc:
            summary.errors += 1
            record = {"line": number, "error": str(exc)}
        line_out = json.dumps(record, ensure_ascii=False)
        try:
            out.write(line_out + "\n")
        except UnicodeEncodeError:  # a terminal that cannot show the text: \u escapes, still valid JSON
            out.write(json.dumps(record) + "\n")
        out.flush()
    return summary
