"""Errors with messages meant for users: the CLI prints them as one line, the bot as a reply."""


class CitebotError(Exception):
    """Base class for every error citebot raises on purpose."""


class UserError(CitebotError):
    """Bad input or an impossible request: the message is one clear line for the user, never a traceback."""
