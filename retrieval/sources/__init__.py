"""Followed sources: feeds, sitemaps, folders (and Telegram channels, fed by the bot) that keep the
corpus current by themselves.

``open_sources(settings)`` is the store of sources and their sync state (``retrieval.storage.sources``);
``sync_sources(corpus, sources)`` syncs the due ones once and reports what it indexed. Modules by
concept: ``model`` (what a sync did, scheduling), ``feeds`` (RSS, Atom, JSON Feed), ``sitemaps``,
``folders``, ``http`` (politeness: per-host turns, conditional GET, Retry-After), ``sync``.
"""
from __future__ import annotations

from ..storage.sources import Sources, open_sources
from .model import SeenEntry, Source, SourceResult, SourceState, SyncReport, parse_every
from .sync import SyncOptions, fetcher_for, options_for, run_forever, sync_sources

__all__ = ["SeenEntry", "Source", "SourceResult", "SourceState", "Sources", "SyncOptions", "SyncReport",
           "fetcher_for", "open_sources", "options_for", "parse_every", "run_forever", "sync_sources"]
