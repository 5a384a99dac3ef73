"""Buttons end to end against the strict fake Bot API: votes per user, and which passages are sources."""
from __future__ import annotations

import re

import pytest

from retrieval import Document
from tests.bot.conftest import GROUP, STRANGER, USER
from tests.fakes.bot_api import parse_telegram_html

QUESTION = "When did the Soviet Union and Japan sign a joint declaration?"
BANANAS = Document(
    text="Banana exports from Ecuador rose by ten percent this season, growers in Guayaquil said on Tuesday. "
         "Prices for the fruit in European supermarkets are expected to stay stable until the summer, traders added.",
    title="Ecuador banana exports rise", source="Reuters", date="2024-01-10")


def visible(message: dict) -> str:
    return parse_telegram_html(message["text"])


def buttons(message: dict) -> dict[str, str]:
    return {b["text"]: b["callback_data"] for row in message.get("reply_markup", {}).get("inline_keyboard", [])
            for b in row}


def test_votes_are_per_user_keep_the_buttons_for_others_and_can_change(corpus, start_bot, fake_api):
    bot = start_bot(corpus)
    fake_api.send_text(USER, f"@citebot_test_bot {QUESTION}", chat_id=GROUP, chat_type="supergroup")
    [answer] = fake_api.wait_messages(GROUP, 1)
    up, down = buttons(answer)["👍"], buttons(answer)["👎"]
    fake_api.press(USER, answer, up)
    fake_api.wait_for(lambda: "👍 1" in buttons(fake_api.bot_messages(GROUP)[0]))
    assert "👎" in buttons(fake_api.bot_messages(GROUP)[0])  # the others can still vote
    fake_api.press(STRANGER, fake_api.bot_messages(GROUP)[0], down)
    fake_api.wait_for(lambda: "👎 1" in buttons(fake_api.bot_messages(GROUP)[0]))
    fake_api.press(USER, fake_api.bot_messages(GROUP)[0], down)  # USER changes their mind
    fake_api.wait_for(lambda: "👎 2" in buttons(fake_api.bot_messages(GROUP)[0]))
    assert "👍" in buttons(fake_api.bot_messages(GROUP)[0])
    votes = sorted((v.user_id, v.vote) for v in bot.app.bot_data.storage.votes())
    assert votes == [(USER, -1), (STRANGER, -1)]
    fake_api.press(STRANGER, fake_api.bot_messages(GROUP)[0], down)  # the same vote again changes nothing
    fake_api.wait_for(lambda: len(fake_api.calls_to("answerCallbackQuery")) == 4)
    assert len(bot.app.bot_data.storage.votes()) == 2
    assert fake_api.rejected == []  # no "message is not modified" edit was attempted


@pytest.mark.quality  # the relevance floor is calibrated on the real model's similarities
def test_answer_lists_only_quoted_passages_and_more_sources_never_an_unrelated_one(corpus, start_bot, fake_api):
    corpus.add_document(BANANAS)
    start_bot(corpus)
    fake_api.send_text(USER, QUESTION)
    [answer] = fake_api.wait_messages(USER, 1)
    body, _, sources = visible(answer).partition("\n\n")  # the answer, then one entry per document
    cited = set(re.findall(r"\[(\d+)\]", body))
    listed = set(re.findall(r"^\[(\d+)\] ", sources, re.MULTILINE))
    assert cited and listed == cited  # every source shown is quoted in the answer
    fake_api.press(USER, answer, buttons(answer)["More sources"])
    page = fake_api.wait_messages(USER, 2)[1]
    seen = visible(page)
    assert f"[{len(cited) + 1}] " in seen  # numbering continues after the answer's sources
    for _ in range(20):
        if "More ▶" not in buttons(page):
            break
        before = page["text"]
        fake_api.press(USER, page, buttons(page)["More ▶"])
        fake_api.wait_for(lambda: fake_api.bot_messages(USER)[1]["text"] != before)
        page = fake_api.bot_messages(USER)[1]
        seen += visible(page)
    assert "banana" not in seen.lower()  # relevant to nothing asked: never offered as a source
    assert "Moscow" in seen or "Japan" in seen
    assert fake_api.rejected == []
