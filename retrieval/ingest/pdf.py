"""PDF files as Documents: the text of every page, with page offsets so citations can name the page."""
from __future__ import annotations

import io
import logging
import re
import zlib

from retrieval.errors import UserError
from retrieval.types import Document

from .document import make_document
from .origin import Loaded, Origin
from .text import normalise_text

logging.getLogger("pypdf").setLevel(logging.CRITICAL)  # its warnings would break "one clear line"


def load(data: bytes, origin: Origin) -> Loaded:
    return Loaded([load_pdf(data, origin.path, origin.label, url=origin.url)])


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
            RecursionError, zlib.error) as exc:
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
    return make_document(text, path=path, label=label, title=title, url=url, page_starts=starts)


def _looks_like_filename(title: str) -> bool:
    """PDF producers often store "Microsoft Word - draft3.docx" or "untitled" as the title."""
    t = title.strip().lower()
    return not t or t in {"untitled", "title"} or t.startswith("microsoft word -") or bool(
        re.search(r"\.(docx?|pdf|txt|odt|indd|qxd)$", t)
    )


