"""The bot's part of the `citebot` command line: `citebot bot` and the Telegram settings, registered
through the ``citebot.apps`` entry point so the library never imports the bot."""
from __future__ import annotations

import argparse
from typing import Any

from bot.settings import BOT_SETTINGS


def cmd_bot(args: argparse.Namespace) -> int:
    """Run the bot until SIGINT/SIGTERM with the settings the CLI loaded."""
    from bot.app import run

    return run(args.settings) or 0


def register(app: Any) -> None:
    """Called by `citebot` with its app registry (retrieval.cli.registry.AppRegistry)."""
    app.command("bot", cmd_bot, "Run the Telegram bot (needs TELEGRAM_BOT_TOKEN).")
    app.settings(BOT_SETTINGS)
