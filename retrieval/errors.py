"""One error hierarchy, with messages meant for users: the CLI prints them as one line, the bot as a reply.

Library messages say what happened, never what to type: advice belongs to the edge that knows its own
commands (the CLI adds "see `citebot list`" from :data:`retrieval.cli.advice`, the bot words its reply in
the user's language from ``code`` and ``params``). Code decides on ``code``, never on message text.
"""
from __future__ import annotations

from typing import Any


class CitebotError(Exception):
    """Base class for every error citebot raises on purpose (bad input, a busy or damaged store, a failed LLM
    call, a bad setting, a closed stdout).

    ``code`` (optional) names the error for programs and other languages, ``params`` hold its values."""

    def __init__(self, message: str = "", *, code: str = "", **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


class UserError(CitebotError):
    """Bad input or an impossible request: the message is one clear line for the user, never a traceback.

    The CLI prints the English message (plus advice for the code), the bot renders ``code`` with ``params``
    in the user's language (bot/i18n.py). Codes in use: ``question_empty``, ``question_too_long`` (length,
    limit), ``no_document`` (ref), ``reindex_needed`` (model, missing, passages), ``bad_setting``,
    ``bad_mode`` (mode), ``bad_limit``; from the store: ``disk_full``, ``store_busy``, ``store_readonly``
    (and ``store_damaged`` on :class:`retrieval.storage.StorageDamaged`); sources: ``no_source`` (ref),
    ``bad_source`` / ``source_is_file`` (location); API keys: ``no_key`` (ref).
    """
