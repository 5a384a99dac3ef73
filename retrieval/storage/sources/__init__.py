"""Where followed sources and their sync state live: the interface (``base``), the value types
(``model``), one module per engine, and :func:`open_sources`, the one place that picks the engine.

Both engines keep two tables: ``sources`` (one row per followed feed, sitemap, folder or channel, with
its validators, last success, last error, consecutive failures and next due time) and
``source_entries`` (the entries already indexed).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..urls import is_postgres_url
from .base import Sources
from .model import SeenEntry, Source, SourceState

if TYPE_CHECKING:  # pragma: no cover
    from ...settings import Settings

__all__ = ["SeenEntry", "Source", "SourceState", "Sources", "open_sources"]


def open_sources(settings: "Settings") -> Sources:
    """The sources store of ``settings``: in the PostgreSQL database when CITEBOT_DATABASE_URL names one
    (replicas share it), else in ``CITEBOT_HOME/citebot.sqlite3`` beside the corpus."""
    url = settings.database_url or ""
    if url.strip() and is_postgres_url(url):
        from .postgres import PostgresSources

        return PostgresSources(url)
    from .sqlite import SQLiteSources

    return SQLiteSources(settings.home_path)
