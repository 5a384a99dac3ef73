"""End to end: the real Application and the real Corpus, talking to the strict fake Bot API server."""
from __future__ import annotations

from tests.bot.conftest import ADMIN, GROUP, USER
from tests.conftest import SEED_ARTICLE


def answers(api, chat_id, count=1, timeout=30):
    return api.wait_messages(chat_id, count, timeout)


def test_question_gets_cited_answer(corpus, start_bot, fake_api):
    start_bot(corpus)
    fake_api.send_text(USER, "Why is resumption of the peace treaty talks with Japan impossible?")
    [reply] = answers(fake_api, USER)
    text = reply["text"]
    assert "[1]" in text and "<blockquote>" in text
    assert "Russia" in text
    assert fake_api.rejected == []

