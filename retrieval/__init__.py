"""citebot's retrieval library: documents -> passages -> embeddings + lexical index -> cited answers.

No Telegram here; the bot and the CLI use only what this module exports.
"""
from .corpus import Corpus
from .errors import CitebotError, UserError
from .settings import SETTINGS, Setting, Settings, load_settings
from .text.lexical import terms
from .text.passages import split_sentences
from .text.scripts import script
from .types import AddResult, Answer, AskProgress, Citation, Document, DocumentInfo, Hit

__all__ = [
    "Corpus", "CitebotError", "UserError", "SETTINGS", "Setting", "Settings", "load_settings",
    "AddResult", "Answer", "AskProgress", "Citation", "Document", "DocumentInfo", "Hit",
    "script", "split_sentences", "terms",  # text helpers the bot's renderer shares with the library
]
