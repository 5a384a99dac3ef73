"""citebot's retrieval library: documents -> passages -> embeddings + lexical index -> cited answers.

No Telegram here; the bot and the CLI use only what this module exports.
"""
from .corpus import Corpus
from .errors import CitebotError, UserError
from .search import further_passages, relevance_floor
from .settings import SETTINGS, Setting, Settings, load_settings
from .types import AddResult, Answer, Citation, Document, DocumentInfo, Hit

__all__ = [
    "Corpus", "CitebotError", "UserError", "further_passages", "relevance_floor", "SETTINGS", "Setting", "Settings", "load_settings",
    "AddResult", "Answer", "Citation", "Document", "DocumentInfo", "Hit",
]
