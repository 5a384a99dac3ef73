"""`citebot ask --batch`: many questions through one loaded model, one `ask --json` object per line out.

Input is one question per line, or JSON Lines objects {"question", "since", "until", "source", "as_of"} (the
filters per line override the command-line ones); the two may be mixed. A bad line (not JSON, no
question, an invalid date, an empty question) yields {"line": N, "error": "..."} for that line and the
rest go on; blank lines are skipped.

Hostile input gets the same error object, never a traceback or unbounded memory: lines are split on
``\n`` only (a lone ``\r`` inside a line does not shift the numbers), a line longer than
:data:`MAX_LINE_BYTES` is an error (and an input with no newline within :data:`MAX_SKIP_BYTES`, such as
``/dev/zero``, ends the batch), JSON nested deeper than :data:`MAX_DEPTH` or holding a number of more
than :data:`MAX_DIGITS` digits is refused before or while it is parsed.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterable, Iterator, TextIO

from ..errors import UserError

FIELDS = ("question", "since", "until", "source", "as_of")
MAX_LINE_BYTES = 1024 * 1024  # a question is at most 100,000 characters (CITEBOT_MAX_QUESTION_CHARS)
MAX_SKIP_BYTES = 16 * 1024 * 1024  # the rest of an over-long line skipped before the batch gives up
MAX_DEPTH = 20  # a valid line is one flat object
MAX_DIGITS = 30
_NUMBER = re.compile(r"-?\d{%d,}" % (MAX_DIGITS + 1))


@dataclass
class Line:
    """One input line: its number (1-based, counting ``\n`` only) and its text, or why it was refused;
    ``last`` is set when nothing after it can be read."""

    number: int
    text: str = ""
    error: str = ""
    last: bool = False


def read_lines(stream: BinaryIO) -> Iterator[Line]:
    """The lines of a binary stream, each at most MAX_LINE_BYTES (decoded as UTF-8, bad bytes replaced,
    a trailing ``\r`` dropped); an over-long line is a Line with an error and its rest is skipped."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        number += 1
        if len(raw) <= MAX_LINE_BYTES or raw.endswith(b"\n"):
            yield Line(number, raw.rstrip(b"\n").removesuffix(b"\r").decode("utf-8", "replace"))
            continue
        skipped = 0
        while not raw.endswith(b"\n"):
            raw = stream.readline(65536)
            skipped += len(raw)
            if not raw:
                break
            if skipped > MAX_SKIP_BYTES:
                yield Line(number, error=f"the line is longer than {MAX_LINE_BYTES + MAX_SKIP_BYTES:,} bytes "
                                        "with no end; the rest of the input is not read", last=True)
                return
        yield Line(number, error=f"the line is longer than the limit of {MAX_LINE_BYTES:,} bytes")


def _depth(text: str) -> int:
    depth = deepest = 0
    for ch in re.sub(r'"(?:[^"\\]|\\.)*"', '""', text):  # brackets inside strings do not count
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


@dataclass
class BatchSummary:
    questions: int = 0
    errors: int = 0


def parse_line(line: str, defaults: dict[str, Any]) -> dict[str, Any]:
    """The ask arguments of one input line; raises UserError for a line that cannot be asked."""
    text = line.strip()
    if not text.startswith("{"):
        return {**defaults, "question": text}
    if _depth(text) > MAX_DEPTH:
        raise UserError(f"not valid here: JSON nested more than {MAX_DEPTH} levels deep")
    if _NUMBER.search(re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)):
        raise UserError(f"not valid here: a number with more than {MAX_DIGITS} digits")
    try:
        item = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    except (RecursionError, ValueError) as exc:  # what the pre-checks missed: still one error line
        raise UserError(f"not valid JSON ({type(exc).__name__})") from None
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


def run(corpus: Any, lines: BinaryIO | Iterable[str], out: TextIO, k: int | None = None,
        since: str | None = None, until: str | None = None, source: str | None = None,
        as_of: str | None = None) -> BatchSummary:
    """Answer every line of ``lines`` (a binary stream, read with :func:`read_lines`, or strings), writing
    one JSON object per answered or failed line (flushed)."""
    summary = BatchSummary()
    defaults = {"since": since, "until": until, "source": source, "as_of": as_of}
    items = read_lines(lines) if hasattr(lines, "readline") and not hasattr(lines, "encoding") else (
        Line(n, text.rstrip("\n")) for n, text in enumerate(lines, 1))
    for item in items:
        number, line = item.number, item.text
        if not item.error and not line.strip():
            continue
        summary.questions += 1
        try:
            if item.error:
                raise UserError(item.error)
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
