"""citebot's retrieval library: documents -> passages -> embeddings + lexical index -> cited answers.

No Telegram here; the bot and the CLI use only what this module exports.
"""
from .answer.conversation import Conversations
from .corpus import Corpus
from .embed.base import limit_threads
from .errors import CitebotError, UserError
from .ingest import IngestOptions, check_url, fetch_url, redact_url
from .search import further_passages, relevance_floor
from .settings import SETTINGS, Setting, Settings, SettingsError, load_settings
from .sources import (SeenEntry, Source, SourceResult, SourceState, Sources, SyncOptions, SyncReport, fetcher_for,
                      open_sources, options_for, parse_every, sync_sources)
from .sources.model import classify as classify_source
from .storage import is_postgres_url, safe_location
from .storage.keys import ApiKey, Keys, NewKey, open_keys
from .storage.migrations import Migration, apply_postgres, apply_sqlite, legacy_table
from .text.lexical import terms
from .text.passages import split_sentences
from .text.scripts import script
from .time.dated import text as time_text
from .types import AddResult, Answer, AskProgress, Citation, Document, DocumentInfo, Hit, TimeInfo
from .corpus.posts import PostOutcome, add_post
from .ingest.telegram import Post, PlainText, plain_text
from .watch import Pending, Watch, Watches, check_watches, open_watches

__all__ = [
    "Corpus", "CitebotError", "UserError", "further_passages", "relevance_floor", "SETTINGS", "Setting", "Settings",
    "load_settings", "AddResult", "Answer", "AskProgress", "Citation", "Document", "DocumentInfo", "Hit",
    "TimeInfo", "time_text",
    "IngestOptions", "check_url", "fetch_url", "redact_url",
    "SeenEntry", "Source", "SourceResult", "SourceState", "Sources", "SyncOptions", "SyncReport", "open_sources",
    "sync_sources", "fetcher_for", "options_for", "parse_every", "classify_source",  # the HTTP API's /v1/sources
    "Post", "PlainText", "PostOutcome", "add_post", "plain_text",
    "Pending", "Watch", "Watches", "check_watches", "open_watches",
    # for apps keeping their own tables: the one migration runner and the engine choice
    "Migration", "apply_postgres", "apply_sqlite", "legacy_table", "is_postgres_url", "safe_location",
    "script", "split_sentences", "terms",  # text helpers the bot's renderer shares with the library
    # for the HTTP API: follow-ups, its keys, per-thread limits in its worker pool
    "Conversations", "SettingsError", "ApiKey", "Keys", "NewKey", "open_keys", "limit_threads",
]
