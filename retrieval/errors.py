"""Errors with messages meant for users: the CLI prints them as one line, the bot as a reply."""
from __future__ import annotations

from typing import Any


class CitebotError(Exception):
    """Base class for every error citebot raises on purpose."""


class UserError(CitebotError):
    """Bad input or an impossible request: the message is one clear line for the user, never a traceback.

    ``code`` (optional) names the error for programs and other languages, ``params`` hold its values:
    the CLI prints the English message, the bot renders ``code`` with ``params`` in the user's language
    (bot/i18n.py) instead of showing CLI-flavoured English. Codes in use: ``question_empty``,
    ``question_too_long`` (length, limit), ``no_document`` (ref).
    """

    def __init__(self, message: str = "", *, code: str = "", **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params
