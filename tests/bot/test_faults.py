"""Telegram faults (429, 5xx, timeouts, network down at start-up, handler crashes) and the token
never appearing in logs or errors. All against the fake Bot API server."""
from __future__ import annotations

import logging
import socket
import time

import pytest

from bot.app import StartupError, build_application
from tests.bot.conftest import ADMIN, TOKEN, USER, RunningBot, bot_settings
from tests.fakes.bot_api import FakeBotAPI, parse_telegram_html

QUESTION = "When did the Soviet Union and Japan sign a joint declaration?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer_texts(api, chat_id):
    return [parse_telegram_html(m["text"]) for m in api.bot_messages(chat_id)]


def test_429_on_send_is_honoured_and_the_reply_delivered(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.fail("sendMessage", 429, retry_after=1)
    fake_api.send_text(USER, QUESTION)
    [reply] = fake_api.wait_messages(USER, 1)
    assert "joint declaration" in parse_telegram_html(reply["text"])
    first, second = fake_api.calls_to("sendMessage")[:2]
    assert second.at - first.at >= 1.0  # waited retry_after before trying again
    assert fake_api.rejected == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_on_send_is_retried(corpus, start_bot, fake_api, status):
    start_bot(corpus)
    fake_api.fail("sendMessage", status, times=2)
    fake_api.send_text(USER, QUESTION)
    [reply] = fake_api.wait_messages(USER, 1)
    assert "joint declaration" in parse_telegram_html(reply["text"])
    assert len(fake_api.calls_to("sendMessage")) == 3


def test_timeout_on_send_is_retried(corpus, start_bot, fake_api):
    start_bot(corpus, read_timeout=1.0)
    fake_api.fail("sendMessage", status=0, delay=2.0)  # answers after the client gave up
    fake_api.send_text(USER, QUESTION)
    replies = fake_api.wait_messages(USER, 1)
    assert "joint declaration" in parse_telegram_html(replies[0]["text"])
    assert len(fake_api.calls_to("sendMessage")) >= 2


def test_polling_survives_5xx_and_keeps_serving(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.fail("getUpdates", 502, times=2)
    fake_api.send_text(USER, QUESTION)
    fake_api.wait_messages(USER, 1, timeout=30)
    assert "joint declaration" in answer_texts(fake_api, USER)[0]


def test_network_down_at_startup_is_retried_with_backoff_then_serves(corpus, start_bot, quiet_logs):
    port = free_port()
    bot = start_bot(corpus, wait_polling=False, api_url=f"http://127.0.0.1:{port}",
                    CITEBOT_TELEGRAM_STARTUP_RETRIES=30)
    deadline = time.monotonic() + 10
    while sum("Telegram Bot API unreachable" in r.getMessage() for r in quiet_logs.records) < 3:
        assert time.monotonic() < deadline, "no retry was logged"
        time.sleep(0.05)
    with FakeBotAPI(TOKEN, port=port) as api:  # the network comes back
        api.wait_for(lambda: api.calls_to("getUpdates"), timeout=20)
        api.send_text(USER, QUESTION)
        api.wait_messages(USER, 1)
        assert "joint declaration" in answer_texts(api, USER)[0]
        bot.stop()
    warnings = [r.getMessage() for r in quiet_logs.records if "unreachable" in r.getMessage()]
    delays = [float(w.split("retrying in ")[1].split(" s")[0]) for w in warnings]
    assert delays[:3] == [0.2, 0.4, 0.8]  # exponential backoff
    assert TOKEN not in quiet_logs.text


def test_startup_gives_up_after_the_configured_retries_with_a_clear_error(tmp_path, corpus, quiet_logs):
    settings = bot_settings(tmp_path / "index", f"http://127.0.0.1:{free_port()}", CITEBOT_TELEGRAM_STARTUP_RETRIES=2)
    bot = RunningBot(build_application(settings, corpus), settings, first_delay=0.05).start()
    bot.join()
    bot.app.bot_data.storage.close()
    assert isinstance(bot.error, StartupError)
    assert str(bot.error).startswith("Telegram Bot API unreachable after 3 attempts")
    assert TOKEN not in str(bot.error) and TOKEN not in quiet_logs.text


def test_rejected_token_is_a_clear_error_without_the_token(tmp_path, corpus, quiet_logs):
    with FakeBotAPI("123:some-other-token") as api:
        settings = bot_settings(tmp_path / "index", api.url)
        bot = RunningBot(build_application(settings, corpus), settings).start()
        bot.join()
        bot.app.bot_data.storage.close()
    assert isinstance(bot.error, StartupError)
    assert "Telegram rejected the bot token" in str(bot.error)
    assert TOKEN not in str(bot.error) and TOKEN not in quiet_logs.text


def test_handler_exception_apologises_logs_traceback_and_bot_keeps_serving(corpus, start_bot, fake_api, quiet_logs):
    class Flaky:
        def ask(self, question):
            if "boom" in question:
                # an error whose text carries the token, as PTB's own InvalidToken does
                raise RuntimeError(f"index exploded while talking to bot{TOKEN}")
            return corpus.ask(question)

        def __getattr__(self, name):
            return getattr(corpus, name)

    start_bot(Flaky())
    fake_api.send_text(USER, "boom question")
    [apology] = fake_api.wait_messages(USER, 1)
    assert apology["text"] == "Sorry, something went wrong on my side. Please try again in a moment."
    fake_api.send_text(USER, QUESTION)
    fake_api.wait_messages(USER, 2)
    assert "joint declaration" in answer_texts(fake_api, USER)[1]
    assert "Traceback" in quiet_logs.text and "RuntimeError: index exploded" in quiet_logs.text
    assert "bot<redacted>" in quiet_logs.text
    assert TOKEN not in quiet_logs.text


def test_token_never_appears_in_logs_even_at_debug(corpus, start_bot, fake_api, quiet_logs):
    bot = start_bot(corpus)
    httpx_logger = logging.getLogger("httpx")
    httpx_logger.setLevel(logging.DEBUG)  # httpx logs every request URL, which holds the token
    try:
        fake_api.fail("sendMessage", 500)
        fake_api.send_text(USER, QUESTION)
        fake_api.send_document(ADMIN, "n.txt", b"Some words about the council in Tromso on Monday.", caption="/add")
        fake_api.wait_messages(USER, 1)
        fake_api.wait_messages(ADMIN, 1)
        bot.stop()
    finally:
        httpx_logger.setLevel(logging.WARNING)
    text = quiet_logs.text
    assert "/bot<redacted>/sendMessage" in text  # URLs were logged, redacted
    assert TOKEN not in text and TOKEN.split(":")[1] not in text
    assert all(TOKEN not in m["text"] for m in fake_api.bot_messages())
