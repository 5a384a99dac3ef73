"""citebot's retrieval library: documents -> passages -> embeddings + lexical index -> cited answers.

No Telegram here; the bot and the CLI use only what this module exports.
"""
from .corpus import Corpus
from .errors import CitebotError, UserError
from .settings import SETTINGS, Setting, Settings, load_settings
from .sources import (SeenEntry, Source, SourceResult, SourceState, Sources, SyncOptions, SyncReport, open_sources,
                      sync_sources)
from .storage import is_postgres_url, safe_location
from .storage.migrations import Migration, apply_postgres, apply_sqlite, legacy_table
from .types import AddResult, Answer, Citation, Document, DocumentInfo, Hit
from .corpus.posts import PostOutcome, add_post
from .ingest.telegram import Post, PlainText, plain_text
from .watch import Pending, Watch, Watches, check_watches, open_watches

__all__ = [
    "Corpus", "CitebotError", "UserError", "SETTINGS", "Setting", "Settings", "load_settings",
    "AddResult", "Answer", "Citation", "Document", "DocumentInfo", "Hit",
    "SeenEntry", "Source", "SourceResult", "SourceState", "Sources", "SyncOptions", "SyncReport", "open_sources",
    "sync_sources",
    "Post", "PlainText", "PostOutcome", "add_post", "plain_text",
    "Pending", "Watch", "Watches", "check_watches", "open_watches",
    # for apps keeping their own tables: the one migration runner and the engine choice
    "Migration", "apply_postgres", "apply_sqlite", "legacy_table", "is_postgres_url", "safe_location",
]
