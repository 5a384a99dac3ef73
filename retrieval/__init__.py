"""citebot's retrieval library: documents -> passages -> embeddings + lexical index -> cited answers.

No Telegram here; the bot and the CLI use only what this module exports.
"""
from .corpus import Corpus
from .errors import CitebotError, UserError
from .ingest import IngestOptions, check_url, fetch_url, redact_url
from .settings import SETTINGS, Setting, Settings, load_settings
from .types import AddResult, Answer, Citation, Document, DocumentInfo, Hit

__all__ = [
    "Corpus", "CitebotError", "UserError", "SETTINGS", "Setting", "Settings", "load_settings",
    "AddResult", "Answer", "Citation", "Document", "DocumentInfo", "Hit",
    "IngestOptions", "check_url", "fetch_url", "redact_url",
]
