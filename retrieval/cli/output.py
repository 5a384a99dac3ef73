"""What the CLI prints: answers, hits and JSON for stdout, with document text made safe for a terminal.

Names and titles from documents are printed with control characters escaped, so a file name cannot move
the cursor or split a line; when stdout is piped, each passage stays on one line so it can be grepped.
Writing errors on stdout (a full disk, a closed pipe) become :class:`OutputError`, told apart from the
index's own I/O.
"""
from __future__ import annotations

import codecs
import errno
import json
import os
import re
import sys
import textwrap
from typing import Any

from ..errors import CitebotError
from ..types import Answer, Hit

EXIT_USER_ERROR = 2
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: Any) -> str:
    """``text`` with control characters shown as escapes (\\x1b, \\n): a file name or title holding
    terminal escapes or a newline must neither reach the terminal raw nor split a line."""
    def escape(m: re.Match[str]) -> str:
        code = ord(m.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _UNPRINTABLE.sub(escape, str(text))


def format_source_line(c: Any) -> str:
    parts = [c.title or "(untitled)", c.date or "undated", c.source or "unknown source"]
    if getattr(c, "page", None):
        parts.append(f"p. {c.page}")
    return printable(" — ".join(parts))


def wrap(text: str, width: int | None, indent: str = "") -> str:
    """Wrap for a terminal; when piped, keep each passage on one line so it can be grepped."""
    if not width:
        return indent + " ".join(text.split())
    return textwrap.indent(textwrap.fill(text, width - len(indent)), indent)


def terminal_width() -> int | None:
    import shutil

    return min(shutil.get_terminal_size().columns, 100) if sys.stdout.isatty() else None


def bold_spans(answer: Answer, tty: bool) -> str:
    """The answer text with its answer spans in bold on a terminal; piped, the quotes stay verbatim."""
    text = answer.answer
    if not tty:
        return text
    for s, e in sorted(getattr(answer, "highlights", []) or [], reverse=True):
        text = text[:s] + "\x1b[1m" + text[s:e] + "\x1b[0m" + text[e:]
    return text


def format_answer(answer: Answer, width: int | None = None, quotes: bool = False) -> str:
    lines = [f"searched for: {answer.searched_for}", ""] if answer.searched_for else []
    time = answer.time
    if time is not None and time.headline and not time.timeline:
        lines.append(printable(time.headline) + ":")  # "As of 7 Feb 2024 (TASS):" then the quotes
    if answer.mode == "generative":
        lines += format_generated(answer, width, quotes)
    elif time is not None and time.timeline:
        lines += [wrap(line, width) for line in answer.answer.splitlines()]
    else:
        lines.append(wrap(bold_spans(answer, bool(width)), width))
    lines += time_lines(answer, width)
    if answer.citations:
        lines.append("")
        lines.append("Sources:" if answer.answered else "Nearest passages (weak matches, they do not answer it):")
        for c in answer.citations:
            lines.append(f"[{c.n}] {format_source_line(c)}")
            if c.url:
                lines.append(f"    {printable(c.url)}")
            lines.append(wrap(c.passage, width, "    "))
    return "\n".join(lines)


def time_lines(answer: Answer, width: int | None) -> list[str]:
    """The notes of ``retrieval.time`` under the answer: outlets, differing reports, fallbacks, staleness."""
    time = answer.time
    if time is None:
        return []
    from ..time.dated import text

    out: list[str] = []
    corr = time.corroboration
    if corr is not None and corr.outlets > 1:
        out.append(wrap(text("outlets", time.lang, n=corr.outlets, marks="".join(f"[{n}]" for n in corr.citations)),
                        width))
    if corr is not None and corr.differ:
        out.append(text("differ", time.lang))
        out += [wrap(f"{d.text} [{d.citation}]", width, "    ") for d in corr.differ]
    if time.note:
        out.append(wrap(f"({time.note})", width))
    return out


def format_versions(versions: list, current: int) -> str:
    """One line per version of a story, oldest first: id, date, superseded or latest, title."""
    lines = []
    for v in versions:
        state = "latest" if not v.superseded else "superseded"
        mark = "*" if v.info.doc_id == current else " "
        lines.append(printable(f"  {mark}{v.info.doc_id:>5}  {v.info.date or 'undated':<10}  {state:<10}  "
                               f"{v.info.title or '(untitled)'}"))
    return "\n".join(lines)


def version_json(v: Any) -> dict[str, Any]:
    return {"doc_id": v.info.doc_id, "date": v.info.date, "title": v.info.title, "source": v.info.source,
            "url": v.info.url, "superseded": v.superseded}


def format_generated(answer: Answer, width: int | None, quotes: bool) -> list[str]:
    """One verified generated sentence per line with its [n]; ``quotes`` adds the supporting quote."""
    lines = []
    for sentence in answer.sentences:
        marks = "".join(f"[{n}]" for n in sentence.citations)
        lines.append(wrap(f"{sentence.text} {marks}", width))
        if quotes and sentence.quote:
            lines.append(wrap(f"> \"{sentence.quote}\" (support {sentence.support:.2f})", width, "    "))
    note = "Written by the LLM; every sentence checked against the passage it cites"
    lines.append(f"({note}; {answer.dropped} unsupported sentence{'s' * (answer.dropped != 1)} dropped.)"
                 if answer.dropped else f"({note}.)")
    return lines


def format_hits(hits: list[Hit], width: int | None = None) -> str:
    if not hits:
        return "No matching passages."
    out = []
    for rank, h in enumerate(hits, 1):
        dense = "-" if h.dense is None else f"{h.dense:.3f}"
        lexical = "-" if h.lexical is None else f"{h.lexical:.2f}"
        out.append(f"{rank}. score {h.score:.3f} (dense {dense}, lexical {lexical})  doc {h.doc_id}  "
                   + printable(f"{h.title or '(untitled)'} — {h.date or 'undated'} — {h.source or 'unknown source'}"))
        out.append(wrap(h.text, width, "    "))
    return "\n".join(out)


def to_json(value: Any) -> str:
    """JSON for stdout: UTF-8 text when the terminal can show it, \\u escapes when it cannot
    (PYTHONIOENCODING=ascii); either way valid JSON."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        unicode_ok = codecs.lookup(encoding).name in ("utf-8", "utf-16", "utf-32", "gb18030")
    except LookupError:
        unicode_ok = False
    return json.dumps(value, ensure_ascii=not unicode_ok, indent=2, allow_nan=False)


def hit_json(h: Hit) -> dict[str, Any]:
    return {"passage_id": h.passage_id, "doc_id": h.doc_id, "score": round(h.score, 4),
            "dense": None if h.dense is None else round(h.dense, 4),
            "lexical": None if h.lexical is None else round(h.lexical, 4),
            "title": h.title, "date": h.date, "source": h.source, "url": h.url, "page": h.page, "passage": h.text}


def safe_streams() -> None:
    """Never fail on a character the terminal's encoding lacks (PYTHONIOENCODING=ascii): escape it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
        except (AttributeError, ValueError):
            pass


class OutputError(CitebotError):
    """Writing to stdout failed (a full disk behind `> file`, /dev/full, a closed pipe)."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(cause.strerror or str(cause))
        self.cause = cause


class GuardedStdout:
    """sys.stdout whose write errors are OutputError, so they are told apart from the index's own I/O."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except OSError as exc:
            raise OutputError(exc) from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(exc) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def output_failed(exc: OSError) -> int:
    """stdout is full or gone (`> /dev/full`, a closed pipe): one line, and no second error at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
    if exc.errno == errno.EPIPE:
        return 0
    print(f"citebot: error: cannot write the output ({exc.strerror or exc})", file=sys.stderr)
    return EXIT_USER_ERROR
