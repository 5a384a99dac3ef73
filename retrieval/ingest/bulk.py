"""Bulk files, one document per record: JSON Lines (one object per line) and CSV (a header row).

A bad record never loses the good ones: each is reported with its line number and the rest are kept.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Iterator

from retrieval.errors import UserError
from retrieval.types import Document

from .dates import coerce_date
from .document import make_document
from .encoding import decode_lines, decode_text
from .origin import LineError, Loaded, Origin
from .text import normalise_text

BULK_FIELDS = ("title", "text", "date", "source", "url", "lang")


def load_jsonl(data: bytes, origin: Origin) -> Loaded:
    return _collect(_jsonl_records(data, origin.label), origin)


def load_csv(data: bytes, origin: Origin) -> Loaded:
    return _collect(_csv_records(decode_text(data, origin.label), origin.label), origin)


def _collect(records: Iterator[tuple[int, Any]], origin: Origin) -> Loaded:
    loaded = Loaded()
    for lineno, record in records:
        try:
            if isinstance(record, UserError):
                raise record
            loaded.documents.append(record_to_document(record, f"{origin.label} line {lineno}",
                                                       f"{origin.path}#{lineno}"))
        except UserError as exc:
            loaded.errors.append(LineError(lineno, exc))
    if not loaded.documents and not loaded.errors:
        raise UserError(f"{origin.label}: no documents in the file")
    return loaded


def _jsonl_records(data: bytes, label: str) -> Iterator[tuple[int, Any]]:
    for lineno, line in decode_lines(data, label):
        if isinstance(line, UserError):
            yield lineno, line
            continue
        line = line.lstrip("\ufeff") if lineno == 1 else line
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, UserError(f"{label} line {lineno}: not valid JSON ({exc.msg})")
        except RecursionError:
            yield lineno, UserError(f"{label} line {lineno}: not valid JSON (nested too deeply)")


def _csv_records(text: str, label: str) -> Iterator[tuple[int, Any]]:
    # the file is already size-limited; csv's own 128 KiB field limit would refuse long articles
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "text" not in fields:
        raise UserError(f"{label}: CSV needs a header row with a 'text' column (title,text,date,source,url)")
    reader.fieldnames = fields
    for row in reader:
        lineno = reader.line_num  # last physical line of the record (quoted fields may span lines)
        if None in row:
            yield lineno, UserError(f"{label} line {lineno}: more values than header columns")
            continue
        if all(not (v or "").strip() for v in row.values()):
            continue
        yield lineno, row


def record_to_document(record: Any, where: str, path: str) -> Document:
    """A bulk record (dict with title, text, date, source, url, lang, place) as a Document."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: expected an object with a 'text' field")
    record = {str(k).lower(): v for k, v in record.items()}
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{where}: missing or empty 'text'")
    for key in ("title", "source", "url", "lang", "place"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise UserError(f"{where}: '{key}' must be a string")
    date = coerce_date(record.get("date"), f"{where}: invalid date {record.get('date')!r}")
    return make_document(
        normalise_text(text), path=path, label=where, title=record.get("title") or "", date=date,
        source=record.get("source") or "", place=record.get("place") or "", url=record.get("url") or "",
        language=record.get("lang") or "", empty="missing or empty 'text'",
    )
