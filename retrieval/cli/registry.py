"""Apps plug their subcommands and settings into `citebot` here, so the library never imports an app.

An app (the Telegram bot, the HTTP API, a third party's) declares an entry point in the ``citebot.apps``
group naming ``module:register``; ``register(app)`` receives an :class:`AppRegistry` and adds commands
and settings to it, the way llm and datasette plugins register theirs. An app whose package or optional
dependencies are missing is left out quietly: its commands are simply not there, and `citebot settings`
does not list its settings.
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Callable

from ..settings import Setting

GROUP = "citebot.apps"
log = logging.getLogger(__name__)

#: ``handler(args) -> exit code``. For app commands ``args.settings`` holds the loaded settings
#: (with ``--home`` applied), so an app never needs the CLI's internals.
Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class AppCommand:
    """One subcommand an app adds: ``configure(parser)`` declares its arguments."""

    app: str
    name: str
    handler: Handler
    help: str
    configure: Callable[[argparse.ArgumentParser], None] | None = None
    exit_codes: str | None = None


@dataclass
class AppRegistry:
    """What the installed apps registered: their subcommands and their settings."""

    commands: list[AppCommand] = field(default_factory=list)
    declared: list[Setting] = field(default_factory=list)
    current_app: str = ""

    def command(self, name: str, handler: Handler, help: str,
                configure: Callable[[argparse.ArgumentParser], None] | None = None,
                exit_codes: str | None = None) -> None:
        """Add ``citebot NAME``; a name already taken (by the library or another app) is an app bug."""
        if any(c.name == name for c in self.commands):
            raise ValueError(f"two apps register the command {name!r}")
        self.commands.append(AppCommand(self.current_app, name, handler, help, configure, exit_codes))

    def settings(self, settings: tuple[Setting, ...] | list[Setting]) -> None:
        """Declare the app's settings: loaded, validated and documented with the library's."""
        self.declared.extend(settings)


@lru_cache(maxsize=1)
def installed_apps() -> AppRegistry:
    """Every installed app's registrations, read once per process from the entry points."""
    registry = AppRegistry()
    for entry in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
        try:
            register = entry.load()
        except ImportError as exc:  # the app or its optional extra is not installed
            log.debug("citebot app %s not available: %s", entry.name, exc)
            continue
        registry.current_app = entry.name
        register(registry)
    registry.current_app = ""
    return registry


def app_settings() -> tuple[Setting, ...]:
    """The settings every installed app declares (for `citebot settings` and the generated docs)."""
    return tuple(installed_apps().declared)
