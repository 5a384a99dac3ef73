"""Loading documents: files, directories, stdin and URLs become Documents with their metadata.

Modules by concept: ``sources`` (arguments, directory walks, size limits), ``fetch`` and ``addresses``
(URLs: deadlines, internal addresses), ``formats`` (the one suffix / content-type table), one module per
format (``plaintext``, ``html``, ``pdf``, ``docx``, ``bulk``), and the shared steps: ``encoding``
(bytes to text), ``frontmatter``, ``markdown``, ``text`` (normalisation, one-line metadata), ``titles``,
``dates`` (dates and the one dateline rule), ``lang`` and ``document`` (the finishing step every loader
ends with).
"""
from __future__ import annotations

from .encoding import decode_text
from .fetch import Response, check_url, fetch_documents, fetch_url, load_url, redact_url
from .formats import FORMATS, SUPPORTED_SUFFIXES
from .options import IngestOptions
from .plaintext import load_text
from .sources import Skipped, load_file, load_sources, walk

__all__ = ["FORMATS", "SUPPORTED_SUFFIXES", "IngestOptions", "Response", "Skipped", "check_url", "decode_text",
           "fetch_documents", "fetch_url", "load_file", "load_sources", "load_text", "load_url", "redact_url", "walk"]
