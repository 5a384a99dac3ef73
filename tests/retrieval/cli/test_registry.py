"""Apps plug into `citebot` through the registry: the bot's command and settings appear without the
library importing the bot, and an app whose package is missing is simply absent."""
from __future__ import annotations

import argparse

import pytest

from retrieval.cli import build_parser, main
from retrieval.cli.registry import AppRegistry, app_settings, installed_apps


def test_the_bot_registers_its_command_and_settings():
    names = [c.name for c in installed_apps().commands]
    assert "bot" in names
    assert "TELEGRAM_BOT_TOKEN" in {s.env for s in app_settings()}
    help_text = build_parser().format_help()
    assert "Run the Telegram bot" in help_text


def test_an_app_command_gets_the_settings_with_home_applied(tmp_path, monkeypatch, capsys):
    seen: dict[str, object] = {}

    def handler(args: argparse.Namespace) -> int:
        seen["home"] = args.settings.home_path
        seen["value"] = args.value
        return 0

    registry = AppRegistry()
    registry.current_app = "demo"
    registry.command("demo-cmd", handler, "A demo app command.",
                     configure=lambda p: p.add_argument("--value", default="x"))
    monkeypatch.setattr("retrieval.cli.installed_apps", lambda: registry)
    assert main(["--home", str(tmp_path / "h"), "demo-cmd", "--value", "42"]) == 0
    assert seen == {"home": tmp_path / "h", "value": "42"}


def test_two_apps_cannot_take_one_command_name():
    registry = AppRegistry()
    registry.command("same", lambda a: 0, "first")
    with pytest.raises(ValueError):
        registry.command("same", lambda a: 0, "second")
