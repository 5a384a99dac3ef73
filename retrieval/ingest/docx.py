"""DOCX files as Documents: paragraphs and tables in order; a Title/Heading 1 first paragraph is the title.

Word's template says a document was created in 2013, so core-property dates are never used: a DOCX
without a stated date gets none (``citebot add --date`` sets one). A DOCX is a zip: its uncompressed
size is checked before anything is inflated, so a 1 MB file that expands to 1 GiB is refused at once.
"""
from __future__ import annotations

import io
import zipfile

from retrieval.errors import UserError
from retrieval.types import Document

from .document import make_document
from .origin import Loaded, Origin
from .text import normalise_text

MAX_UNCOMPRESSED = 256 * 1024 * 1024  # every part python-docx would hold in memory, added up


def load(data: bytes, origin: Origin) -> Loaded:
    return Loaded([load_docx(data, origin.path, origin.label, url=origin.url)])


def check_uncompressed_size(data: bytes, label: str, limit: int = MAX_UNCOMPRESSED) -> None:
    """Refuse a zip whose members would inflate past ``limit`` bytes (sizes from its directory: zipfile
    stops reading a member at its declared size, so a lying directory cannot get past this)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise UserError(f"{label}: not a readable DOCX file ({type(exc).__name__})") from None
    if total > limit:
        raise UserError(f"{label}: DOCX content expands to {total // (1024 * 1024)} MB, over the limit of "
                        f"{limit // (1024 * 1024)} MB (a compression bomb?)")


def load_docx(data: bytes, path: str, label: str, url: str = "") -> Document:
    """Paragraphs and tables in document order; a Title/Heading 1 first paragraph becomes the title."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    check_uncompressed_size(data, label)
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
    return make_document(text, path=path, label=label, title=title, url=url, empty="no text in the DOCX file")


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

