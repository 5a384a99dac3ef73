"""HTML, PDF and DOCX files (or fetched bytes) as Documents.

Dates come only from explicit publication metadata (HTML ``article:published_time`` and similar
markup) or the article's dateline. Guesses are refused: htmldate's extensive search reads
"Copyright 2024" as 2024-01-01, and a DOCX made from Word's template says it was created in 2013, so a
document without a stated date gets none (``citebot add --date`` sets one).
"""
from __future__ import annotations

import io
import logging
import re
import warnings
import zipfile

from retrieval import dates, lang
from retrieval.documents import first_sentence_title, normalise_text
from retrieval.errors import UserError
from retrieval.types import Document

for _name in ("pypdf", "trafilatura", "htmldate", "courlan", "readability", "justext"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)  # their warnings would break "one clear line"


def load_binary(data: bytes, suffix: str, path: str, label: str, url: str = "") -> list[Document]:
    """Dispatch on suffix (".html", ".htm", ".pdf", ".docx")."""
    if suffix in {".html", ".htm"}:
        return [load_html(data, path, label, url=url)]
    if suffix == ".pdf":
        return [load_pdf(data, path, label, url=url)]
    if suffix == ".docx":
        return [load_docx(data, path, label, url=url)]
    raise UserError(f"{label}: unsupported file type {suffix}")


def _finish(text: str, *, title: str, date: str | None, source: str, url: str, path: str, label: str,
            page_starts: list[int] | None = None) -> Document:
    """Apply the dateline (place, source, date) and fill title and language; text must be normalised."""
    place = ""
    starts = list(page_starts or [])
    dl = dates.find_dateline(text)
    if dl:
        cut = dl.end
        text = text[cut:]
        starts = [max(0, s - cut) for s in starts]
        place = dl.place
        source = source or dl.source
        date = date or dl.resolve(text=text)
    if not text.strip():
        raise UserError(f"{label}: no text found")
    return Document(
        text=text,
        title=title.strip() or first_sentence_title(text),
        date=date,
        source=source.strip(),
        url=url,
        lang=lang.detect(text),
        path=path,
        place=place,
        page_starts=starts,
    )


# ----------------------------------------------------------------------------------------------- HTML


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
    date = dates.parse_date(result.date) if result.date else None
    return _finish(
        text, title=title, date=date, source=result.sitename or "", url=url or result.url or "",
        path=path, label=label,
    )


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


# ------------------------------------------------------------------------------------------------ PDF


def load_pdf(data: bytes, path: str, label: str, url: str = "") -> Document:
    """Text of every page; ``page_starts`` holds each page's char offset so citations name the page."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError, PyPdfError

    if not data.strip():
        raise UserError(f"{label}: file is empty")
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise UserError(f"{label}: not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")  # many PDFs are encrypted with an empty user password
            except Exception:
                ok = 0
            if not ok:
                raise UserError(f"{label}: encrypted PDF (password protected); decrypt it first")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta = reader.metadata
        title = str(meta.title or "") if meta is not None and meta.title else ""
    except UserError:
        raise
    except FileNotDecryptedError:
        raise UserError(f"{label}: encrypted PDF (password protected); decrypt it first") from None
    except LimitReachedError:  # a small file inflating to hundreds of MB: refused, not a traceback
        raise UserError(f"{label}: PDF content expands past the decompression limit (a compression bomb?)") from None
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError,
            RecursionError, zlib_error()) as exc:
        raise UserError(f"{label}: corrupt or unreadable PDF ({type(exc).__name__})") from None
    if not pages:
        raise UserError(f"{label}: PDF has no pages")
    parts: list[str] = []
    starts: list[int] = []
    offset = 0
    for raw in pages:
        page_text = normalise_text(raw)
        if parts and page_text:
            offset += 2  # the "\n\n" that joins this page to the previous text
        starts.append(offset)
        if page_text:
            parts.append(page_text)
            offset += len(page_text)
    text = "\n\n".join(parts)
    if not text.strip():
        raise UserError(f"{label}: no extractable text in the PDF (scanned images? run OCR first)")
    if _looks_like_filename(title):
        title = ""
    return _finish(text, title=title, date=None, source="", url=url, path=path, label=label, page_starts=starts)


def zlib_error() -> type[BaseException]:
    import zlib

    return zlib.error


def _looks_like_filename(title: str) -> bool:
    """PDF producers often store "Microsoft Word - draft3.docx" or "untitled" as the title."""
    t = title.strip().lower()
    return not t or t in {"untitled", "title"} or t.startswith("microsoft word -") or bool(
        re.search(r"\.(docx?|pdf|txt|odt|indd|qxd)$", t)
    )


# ----------------------------------------------------------------------------------------------- DOCX


def load_docx(data: bytes, path: str, label: str, url: str = "") -> Document:
    """Paragraphs and tables in document order; a Title/Heading 1 first paragraph becomes the title."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UserError(f"{label}: not a readable DOCX file ({type(exc).__name__})") from None
    except Exception as exc:  # lxml errors on a damaged part
        raise UserError(f"{label}: corrupt DOCX file ({type(exc).__name__})") from None
    blocks: list[tuple[str, str]] = []  # (style name, text)
    for item in document.iter_inner_content():
        if isinstance(item, docx.table.Table):
            for row in _table_rows(item):
                blocks.append(("Table", row))
        else:
            text = item.text.strip()
            if text:
                style = item.style.name if item.style is not None else ""
                blocks.append((style or "", text))
    title = (document.core_properties.title or "").strip()
    if blocks and blocks[0][0] in {"Title", "Heading 1"}:
        heading = blocks.pop(0)[1]
        title = title or heading
    text = normalise_text("\n\n".join(text for _, text in blocks))
    if not text:
        raise UserError(f"{label}: no text in the DOCX file")
    return _finish(text, title=title, date=None, source="", url=url, path=path, label=label)


def _table_rows(table) -> list[str]:  # type: ignore[no-untyped-def]
    """Each row as "cell | cell", merged cells once, nested tables flattened into their cell."""
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            value = " ".join(cell.text.split())
            cells.append(value)
        if any(cells):
            rows.append(" | ".join(cells))
    return rows

