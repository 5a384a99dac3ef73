"""The one table of supported formats: file suffixes and HTTP content types to the loader for each.

Files are chosen by suffix, fetched URLs by content type, then by the URL's suffix, then by sniffing the
first bytes; adding a format is one row here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from . import bulk, docx, html, pdf, plaintext, telegram
from .origin import Loaded, Origin


@dataclass(frozen=True)
class Format:
    """One supported format. ``bulk`` formats hold one document per record (line, row, post); ``note``
    says what a record is, for `add --help`."""

    name: str
    suffixes: tuple[str, ...]
    content_types: tuple[str, ...]
    load: Callable[[bytes, Origin], Loaded]
    bulk: bool = False
    note: str = ""


FORMATS: tuple[Format, ...] = (
    Format("text", (".txt", ".text"), ("text/plain",), plaintext.load_plain),
    Format("markdown", (".md", ".markdown"), ("text/markdown", "text/x-markdown"), plaintext.load_markdown),
    Format("html", (".html", ".htm"), ("text/html", "application/xhtml+xml"), html.load),
    Format("pdf", (".pdf",), ("application/pdf",), pdf.load),
    Format("docx", (".docx",), ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
           docx.load),
    Format("jsonl", (".jsonl", ".ndjson"), ("application/jsonl", "application/x-ndjson", "application/x-jsonlines"),
           bulk.load_jsonl, bulk=True, note="one document per line"),
    Format("csv", (".csv",), ("text/csv",), bulk.load_csv, bulk=True, note="one document per row"),
    Format("telegram", (".json",), ("application/json",), telegram.load_export, bulk=True,
           note="a Telegram Desktop export, result.json: one document per post"),
)

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(s for f in FORMATS for s in f.suffixes)
_BY_SUFFIX = {s: f for f in FORMATS for s in f.suffixes}
_BY_TYPE = {t: f for f in FORMATS for t in f.content_types}


def by_suffix(suffix: str) -> Format | None:
    return _BY_SUFFIX.get(suffix.lower())


def by_content_type(content_type: str) -> Format | None:
    return _BY_TYPE.get(content_type.lower())


def sniff(data: bytes) -> Format | None:
    """PDF and HTML recognised from their first bytes (a server that says application/octet-stream)."""
    head = data[:1024].lstrip().lower()
    if head.startswith(b"%pdf"):
        return _BY_SUFFIX[".pdf"]
    if re.match(rb"(<!doctype html|<html|<head|<body|<meta|<!--)", head):
        return _BY_SUFFIX[".html"]
    return None


def supported_list() -> str:
    return " ".join(sorted(SUPPORTED_SUFFIXES))
