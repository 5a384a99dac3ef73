"""Conversations in Telegram (issue 11, the bot side): follow-ups per chat (per user in groups),
"Searched for: …", /new, and generated answers whose every sentence reached the chat verified."""
from __future__ import annotations

import shutil

import pytest

from retrieval import Corpus, load_settings
from tests.bot.conftest import GROUP, STRANGER, USER
from tests.fakes.bot_api import parse_telegram_html
from tests.fakes.openai_server import SUPPORTED, UNSUPPORTED, FakeOpenAI, answering, poisoned_answer

MARCH = "The Russian foreign ministry said in March 2022 that Moscow was stopping peace treaty talks with Tokyo"


def visible(message: dict) -> str:
    return parse_telegram_html(message["text"])


def buttons(message: dict) -> dict[str, str]:
    return {b["text"]: b["callback_data"] for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row}


def answer_part(message: dict) -> str:
    return visible(message).split("Sources")[0]


def test_follow_up_is_answered_with_the_march_2022_sentence_without_an_llm(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.send_text(USER, "why did talks stop?")
    fake_api.wait_messages(USER, 1)
    fake_api.send_text(USER, "when was that?")
    second = fake_api.wait_messages(USER, 2)[1]
    assert "Searched for: when did talks stop?" in visible(second)
    assert MARCH in answer_part(second)
    fake_api.send_text(USER, "/new")
    fake_api.wait_messages(USER, 3)
    fake_api.send_text(USER, "when was that?")
    fourth = fake_api.wait_messages(USER, 4)[3]
    assert "Searched for" not in visible(fourth)  # forgotten: nothing to follow up on
    assert fake_api.rejected == []


def test_in_groups_each_user_has_their_own_conversation(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.send_text(USER, "@citebot_test_bot why did talks stop?", chat_id=GROUP, chat_type="supergroup")
    fake_api.wait_messages(GROUP, 1)
    fake_api.send_text(STRANGER, "@citebot_test_bot when was that?", chat_id=GROUP, chat_type="supergroup")
    fake_api.send_text(USER, "@citebot_test_bot when was that?", chat_id=GROUP, chat_type="supergroup")
    replies = fake_api.wait_messages(GROUP, 3)[1:]
    searched = [("Searched for" in visible(m)) for m in replies]
    assert sorted(searched) == [False, True]  # only the user who asked first has something to follow up


@pytest.fixture
def llm():
    with FakeOpenAI() as server:
        yield server


def test_generated_sentences_are_shown_with_their_numbers_and_an_unsupported_one_never(
        tmp_path, seed_index, embedder, start_bot, fake_api, llm):
    home = tmp_path / "index"
    shutil.copytree(seed_index, home)
    llm.responder = answering(poisoned_answer())
    settings = load_settings(env={}).replace(home=str(home), llm_url=llm.url, llm_timeout=5.0)
    with Corpus.open(settings, embedder=embedder) as corpus:
        start_bot(corpus)
        fake_api.send_text(USER, "why did talks stop?")
        [reply] = fake_api.wait_messages(USER, 1)
        text = visible(reply)
        assert SUPPORTED[:-5] + ". [1]" in text  # the verified sentence, then its number
        for kind, (_sentence, fragment) in UNSUPPORTED.items():
            assert fragment not in text, kind  # e.g. "45 sanctions": a number not in its passage
        fake_api.press(USER, reply, buttons(reply)["Show quotes"])
        quotes = fake_api.wait_messages(USER, 2)[1]
        assert "Supporting quotes" in visible(quotes) and MARCH in visible(quotes)
    assert fake_api.rejected == []
