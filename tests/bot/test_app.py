"""`citebot bot` start-up errors and settings wiring (no server needed)."""
from __future__ import annotations

import pytest

from bot.app import api_urls, redact, protect_secrets
from bot.settings import BOT_SETTINGS
from retrieval import cli


def test_missing_token_is_one_clear_line(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("CITEBOT_HOME", str(tmp_path / "index"))
    assert cli.main(["bot"]) == 2
    err = capsys.readouterr().err
    assert err == ("citebot: error: TELEGRAM_BOT_TOKEN is not set: create a bot with @BotFather "
                   "and export its token\n")
    assert not (tmp_path / "index").exists()  # nothing created


def test_bad_admin_id_is_one_clear_line_and_hides_the_token(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:ABCdef-ghi")
    monkeypatch.setenv("CITEBOT_TELEGRAM_ADMINS", "12, @bob")
    monkeypatch.setenv("CITEBOT_HOME", str(tmp_path / "index"))
    assert cli.main(["bot"]) == 2
    err = capsys.readouterr().err
    assert err == "citebot: error: CITEBOT_TELEGRAM_ADMINS: '@bob' is not a numeric Telegram id\n"


def test_settings_keep_their_env_names_and_the_token_is_secret():
    by_env = {s.env: s for s in BOT_SETTINGS}
    assert {"TELEGRAM_BOT_TOKEN", "CITEBOT_TELEGRAM_API_URL", "CITEBOT_TELEGRAM_ALLOWED_USERS",
            "CITEBOT_TELEGRAM_ALLOWED_CHATS", "CITEBOT_TELEGRAM_ADMINS", "CITEBOT_TELEGRAM_RATE_LIMIT",
            "CITEBOT_TELEGRAM_WEBHOOK_URL", "CITEBOT_TELEGRAM_WEBHOOK_LISTEN", "CITEBOT_TELEGRAM_WEBHOOK_PORT",
            "CITEBOT_TELEGRAM_WEBHOOK_SECRET", "CITEBOT_TELEGRAM_MAX_UPLOAD_MB"} <= set(by_env)
    assert by_env["TELEGRAM_BOT_TOKEN"].secret and by_env["CITEBOT_TELEGRAM_WEBHOOK_SECRET"].secret
    assert all(s.group == "telegram" for s in BOT_SETTINGS)


@pytest.mark.parametrize("root", ["http://127.0.0.1:8081", "http://127.0.0.1:8081/", "http://127.0.0.1:8081/bot"])
def test_self_hosted_api_url_becomes_ptb_base_urls(root):
    assert api_urls(root) == ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/file/bot")


def test_redact_hides_plain_and_percent_encoded_secrets():
    protect_secrets("999:secret-value")
    assert redact("GET /file/bot999%3Asecret-value/x and bot999:secret-value") == \
        "GET /file/bot<redacted>/x and bot<redacted>"


def test_citebot_bot_process_serves_and_stops_cleanly_on_sigterm(tmp_path, seed_index):
    """The real console script: starts, answers through the fake server, exits 0 on SIGTERM,
    and its whole output never contains the token."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.bot.conftest import TOKEN, USER
    from tests.fakes.bot_api import FakeBotAPI, parse_telegram_html

    home = tmp_path / "index"
    shutil.copytree(seed_index, home)
    citebot = Path(sys.executable).with_name("citebot")
    with FakeBotAPI(TOKEN) as api:
        env = dict(os.environ, CITEBOT_HOME=str(home), TELEGRAM_BOT_TOKEN=TOKEN, CITEBOT_TELEGRAM_API_URL=api.url,
                   HF_HUB_OFFLINE="1")
        proc = subprocess.Popen([str(citebot), "bot"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
        try:
            api.wait_for(lambda: api.calls_to("getUpdates"), timeout=90)
            api.send_text(USER, "Which islands does Japan claim?")
            [reply] = api.wait_messages(USER, 1, timeout=60)
            assert "Kunashir" in parse_telegram_html(reply["text"])
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, out
    assert "serving by long polling as @citebot_test_bot" in out
    assert TOKEN not in out
