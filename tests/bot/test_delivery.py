"""The update journal: redeliveries are not answered twice; at start-up, unanswered questions are
answered if recent, apologised for if older, dropped if old."""
from __future__ import annotations

import time

from bot.delivery import bot_id_of
from bot.storage.sqlite import SQLiteBotStorage
from tests.bot.conftest import TOKEN, USER
from tests.bot.recording import message
from tests.fakes.bot_api import parse_telegram_html

QUESTION = "When did the Soviet Union and Japan sign a joint declaration?"


def test_a_redelivered_update_is_answered_once(harness):
    h = harness()
    update = message(USER, QUESTION)
    h.feed(update)
    h.feed(update)  # Telegram sends it again (not confirmed before a restart)
    assert len(h.request.sent()) == 1
    [entry_state] = [h.app.bot_data.storage.receive(bot_id_of(TOKEN), update["update_id"], USER, update, 0.0)]
    assert entry_state == "done"


def test_startup_answers_recent_apologises_for_older_and_drops_old(tmp_path, corpus, start_bot, fake_api):
    storage = SQLiteBotStorage(tmp_path / "index" / "feedback.sqlite3")
    now = time.time()
    ages = {USER: 60, USER + 1: 1200, USER + 2: 7200}  # seconds since they arrived
    for i, (chat, age) in enumerate(ages.items()):
        update = message(chat, QUESTION, lang="ru" if chat == USER + 1 else "en")
        update["update_id"] = 900_000 + i
        storage.receive(bot_id_of(TOKEN), update["update_id"], chat, update, now - age)
    storage.close()
    bot = start_bot(corpus)
    [answer] = fake_api.wait_messages(USER, 1)
    assert "joint declaration" in parse_telegram_html(answer["text"])
    [sorry] = fake_api.wait_messages(USER + 1, 1)
    assert parse_telegram_html(sorry["text"]).startswith("Извините, я перезапускался")
    fake_api.send_text(USER + 2, "/start")  # a barrier: later updates are handled
    [hello] = fake_api.wait_messages(USER + 2, 1)
    assert hello["text"].startswith("Hello!")  # the two-hour-old question got nothing
    fake_api.wait_for(lambda: not bot.app.bot_data.storage.unfinished(bot_id_of(TOKEN)))
    # the journaled questions never passed through this server, so the 👀 on them is refused (and ignored)
    assert [m for m, _ in fake_api.rejected if m != "setMessageReaction"] == []


def test_journal_states_survive_in_the_file_and_are_per_bot(tmp_path):
    storage = SQLiteBotStorage(tmp_path / "f.sqlite3")
    update = message(USER, "a private question")
    assert storage.receive(1, update["update_id"], USER, update, 10.0) == "new"
    assert storage.receive(1, update["update_id"], USER, update, 11.0) == "pending"
    [entry] = storage.unfinished(1)
    assert entry.payload["message"]["text"] == "a private question" and entry.received == 10.0
    storage.finish(1, update["update_id"], 12.0)
    assert storage.unfinished(1) == [] and storage.receive(1, update["update_id"], USER, update, 13.0) == "done"
    assert storage.receive(2, update["update_id"], USER, update, 14.0) == "new"  # another bot's ids
    assert storage.prune(before=13.5) == 1
    storage.close()
