"""Questions as users send them: in their language, with markup, as photo captions, or not questions at all."""
from __future__ import annotations

from tests.bot.conftest import GROUP, USER
from tests.bot.recording import message
from tests.fakes.bot_api import parse_telegram_html

PHOTO = [{"file_id": "P1", "file_unique_id": "p1", "width": 90, "height": 90}]
STICKER = {"file_id": "S1", "file_unique_id": "s1", "type": "regular", "width": 512, "height": 512,
           "is_animated": False, "is_video": False, "emoji": "👍"}


def test_too_long_question_is_refused_in_the_users_language(harness):
    [ru] = harness().feed(message(USER, "почему " * 400, lang="ru")).texts()
    assert "Вопрос длиной 2\u202f799 символов; предел — 2\u202f000" in ru
    assert "characters" not in ru
    [en] = harness().feed(message(USER, "why " * 700)).texts()
    assert "The question is 2,799 characters long; the limit is 2,000" in en


def test_invisible_only_text_gets_the_usual_prompt(harness):
    [reply] = harness().feed(message(USER, "\u200b\u200d\ufeff", lang="ru")).texts()
    assert reply.startswith("Напишите вопрос")


def test_photo_with_a_question_caption_is_answered(harness):
    request = harness().feed(
        message(USER, None, photo=PHOTO, caption="When did the Soviet Union and Japan sign a joint declaration?"),
        message(USER, None, chat=GROUP, photo=PHOTO,
                caption="@citebot_test_bot Which islands does Japan claim?",
                caption_entities=[{"type": "mention", "offset": 0, "length": 17}]),
        message(USER, None, chat=GROUP, photo=PHOTO, caption="holiday snaps"),  # not for us
    )
    texts = [parse_telegram_html(t) for t in request.texts()]
    assert len(texts) == 2
    assert any("joint declaration" in t for t in texts) and any("Kunashir" in t for t in texts)


def test_sticker_and_unknown_command_in_private_get_short_help_in_groups_silence(harness):
    request = harness().feed(
        message(USER, None, sticker=STICKER),
        message(USER, "/frobnicate now", lang="ru"),
        message(USER, None, chat=GROUP, sticker=STICKER),
        message(USER, "/frobnicate", chat=GROUP),
    )
    texts = request.texts()
    assert len(texts) == 2
    assert texts[0].startswith("I answer questions about the news in my library") and "/help" in texts[0]
    assert texts[1].startswith("Я отвечаю на вопросы")


def test_markup_in_a_question_is_stripped_before_retrieval(harness):
    """Tags and Markdown emphasis are not words: with them the question went unanswered."""
    request = harness().feed(message(USER, "<b>Why</b> did the <i>talks</i> stop?"),
                             message(USER, "**why** did __talks__ _stop_?", chat=USER + 1))
    for reply in request.sent():
        assert "March 2022" in parse_telegram_html(reply["text"]).split("Sources")[0], reply["text"]


def test_new_forgets_and_says_so(harness):
    [reply] = harness().feed(message(USER, "/new")).texts()
    assert "New conversation" in reply
