"""What to type next, added to an error's message at the edge, from its code (never from its text).

The library says what happened ("no document '7'"); only the CLI knows its own commands and flags, so it
appends the advice here. The bot has its own words for the same codes (bot/i18n.py).
"""
from __future__ import annotations

from ..errors import CitebotError

ADVICE: dict[str, str] = {
    "no_document": "see `citebot list` for ids",
    "reindex_needed": "run `citebot reindex`",
    "near_duplicate": "use --force to add it anyway",
    "store_damaged": "run `citebot verify` to check it",
    "no_source": "see `citebot sources list` for ids",
    "no_key": "see `citebot keys list`",
    "source_is_file": "use `citebot add` for one file",
}

REASON_ADVICE: dict[str, str] = {  # AddResult.reason -> advice (an add result is not an exception)
    "near-duplicate": ADVICE["near_duplicate"],
}


def with_advice(exc: BaseException) -> str:
    """The error's message, followed by the CLI's advice for its code when there is one."""
    message = str(exc)
    advice = ADVICE.get(getattr(exc, "code", "") or "") if isinstance(exc, CitebotError) else None
    return f"{message} ({advice})" if advice and advice not in message else message


def result_message(message: str, reason: str) -> str:
    """An add result's message with the CLI's advice for its reason."""
    advice = REASON_ADVICE.get(reason)
    return f"{message}; {advice}" if advice and advice not in message else message
