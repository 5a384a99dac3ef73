"""citebot's retrieval library: documents -> passages -> embeddings + lexical index -> cited answers.

No Telegram here; the bot and the CLI use only what this module exports.
"""
from .corpus import Corpus
from .errors import CitebotError, UserError
from .settings import SETTINGS, Setting, Settings, load_settings
from .storage import is_postgres_url, safe_location
from .storage.migrations import Migration, apply_postgres, apply_sqlite, legacy_table
from .time.dated import text as time_text
from .types import AddResult, Answer, Citation, Document, DocumentInfo, Hit, TimeInfo

__all__ = [
    "Corpus", "CitebotError", "UserError", "SETTINGS", "Setting", "Settings", "load_settings",
    "AddResult", "Answer", "Citation", "Document", "DocumentInfo", "Hit", "TimeInfo", "time_text",
    # for apps keeping their own tables: the one migration runner and the engine choice
    "Migration", "apply_postgres", "apply_sqlite", "legacy_table", "is_postgres_url", "safe_location",
]
