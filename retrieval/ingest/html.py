"""Web pages as Documents: the main article text (trafilatura, comments off) and its stated metadata.

Dates come only from explicit publication metadata (``article:published_time`` and similar markup) or
the article's dateline: htmldate's extensive search reads "Copyright 2024" as 2024-01-01, so it is off.
"""
from __future__ import annotations

import logging
import re
import warnings

from retrieval.errors import UserError
from retrieval.types import Document

from .dates import parse_date
from .document import make_document
from .origin import Loaded, Origin
from .text import normalise_text

for _name in ("trafilatura", "htmldate", "courlan", "readability", "justext"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)  # their warnings would break "one clear line"


def load(data: bytes, origin: Origin) -> Loaded:
    page: bytes | str = data
    if origin.charset:
        try:
            page = data.decode(origin.charset)
        except (LookupError, UnicodeDecodeError):
            page = data  # let trafilatura detect the encoding
    return Loaded([load_html(page, origin.path, origin.label, url=origin.url)])


def load_html(data: bytes | str, path: str, label: str, url: str = "") -> Document:
    """Main article text of a web page (trafilatura, comments off) with its metadata."""
    import trafilatura

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = trafilatura.bare_extraction(
                data, url=url or None, include_comments=False, include_tables=True, with_metadata=True,
                date_extraction_params={"extensive_search": False, "original_date": True},
            )
        except Exception as exc:  # lxml parser errors on garbage input
            raise UserError(f"{label}: not readable HTML ({type(exc).__name__})") from None
    if result is None or not any(len(line.split()) >= 4 for line in (result.text or "").split("\n")):
        # with no article, trafilatura falls back to menu items ("Home", "World"): not text to cite
        raise UserError(f"{label}: no article text found in the HTML page")
    title = (result.title or "").strip()
    text = normalise_text(_html_blocks(result.body) if result.body is not None else result.text)
    if not text:
        raise UserError(f"{label}: no article text found in the HTML page")
    first, _, rest = text.partition("\n\n")
    if title and rest and first.strip().casefold() == title.casefold():
        text = rest  # the <h1> repeats the title
    date = parse_date(result.date) if result.date else None
    return make_document(text, path=path, label=label, title=title, date=date, source=result.sitename or "",
                         url=url or result.url or "")


_LB = "\u2028"  # stands for <lb/> while whitespace is collapsed


def _html_blocks(body) -> str:  # type: ignore[no-untyped-def]
    """Paragraphs from trafilatura's extracted tree: one per block, source line wrapping undone.

    ``result.text`` keeps the hard line breaks of the HTML source inside paragraphs ("without
    having\nto modify it"), which would split sentences; the tree knows the real blocks.
    """
    def flat(el) -> str:  # type: ignore[no-untyped-def]
        for lb in el.iter("lb"):
            lb.tail = _LB + (lb.tail or "")
        text = re.sub(r"\s+", " ", "".join(el.itertext()).replace(_LB, "\x00"))
        return "\n".join(part.strip() for part in text.split("\x00")).strip()

    blocks: list[str] = []
    for child in body:
        tag = child.tag if isinstance(child.tag, str) else ""
        if tag == "list":
            block = "\n".join(t for t in (flat(item) for item in child.findall("item")) if t)
        elif tag == "table":
            rows = [" | ".join(flat(cell) for cell in row.findall("cell")) for row in child.iter("row")]
            block = "\n".join(r for r in rows if r.strip(" |"))
        elif tag == "code":
            block = "".join(child.itertext()).strip("\n")
        else:
            block = flat(child)
        if block:
            blocks.append(block)
    return "\n\n".join(blocks)


