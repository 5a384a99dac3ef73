"""Feedback store: questions behind buttons and votes, surviving a restart."""
from __future__ import annotations

from bot.storage.sqlite import SQLiteBotStorage as FeedbackStore


def test_votes_keep_question_and_cited_passages_and_survive_reopening(tmp_path):
    path = tmp_path / "index" / "feedback.sqlite3"
    store = FeedbackStore(path)
    key = store.remember("When did talks stop?", [11, 12], user_id=5, chat_id=5, answered=True)
    assert len(key.encode()) <= 12  # leaves room in 64-byte callback data
    assert store.vote(key, 5, +1).passage_ids == [11, 12]
    store.vote(key, 5, -1)  # changing one's mind replaces the vote
    store.vote(key, 6, +1)
    store.close()

    reopened = FeedbackStore(path)
    votes = [(v.question, v.passage_ids, v.user_id, v.vote) for v in reopened.votes()]
    assert votes == [("When did talks stop?", [11, 12], 5, -1), ("When did talks stop?", [11, 12], 6, 1)]
    assert reopened.question(key).question == "When did talks stop?"
    reopened.close()


def test_unknown_key_is_none_not_an_error(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    assert store.question("nope") is None
    assert store.vote("nope", 1, 1) is None
    assert store.votes() == []
    store.close()
