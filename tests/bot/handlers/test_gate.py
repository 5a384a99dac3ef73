"""Access is checked once, before any handler: refused users get one polite answer when they speak to
the bot, silence when they merely chat in a group, and nothing reaches the library."""
from __future__ import annotations

from tests.bot.conftest import GROUP, STRANGER, USER
from tests.bot.recording import BOT, _update_ids, message


def test_unauthorised_users_are_stopped_before_every_handler(harness, corpus):
    asked: list[str] = []

    class Spy:
        def __getattr__(self, name):
            asked.append(name)
            return getattr(corpus, name)

    h = harness(Spy(), CITEBOT_TELEGRAM_ALLOWED_USERS=str(USER))
    press = {"update_id": next(_update_ids), "callback_query": {
        "id": "q9", "from": {"id": STRANGER, "is_bot": False, "first_name": "S"}, "chat_instance": "c",
        "data": "s:0", "message": {"message_id": 9, "date": 0, "chat": {"id": STRANGER, "type": "private"},
                                   "from": BOT, "text": "old"}}}
    request = h.feed(
        message(STRANGER, "When did talks stop?", chat=GROUP),  # chatter: silence
        message(STRANGER, "@citebot_test_bot When did talks stop?", chat=GROUP),
        message(STRANGER, "/sources"),
        message(STRANGER, None, sticker={"file_id": "S", "file_unique_id": "s", "type": "regular", "width": 1,
                                         "height": 1, "is_animated": False, "is_video": False}),
        press,
    )
    texts = request.texts()
    assert len(texts) == 3 and all("not on its access list" in t for t in texts)
    [alert] = request.sent("answerCallbackQuery")
    assert alert["show_alert"] and "not on its access list" in alert["text"]
    assert asked == []  # neither search, listing nor anything else ran
