"""The bot's tables behave the same in SQLite and in PostgreSQL, and PostgreSQL lets bot replicas share them."""
from __future__ import annotations

import threading

import pytest

from bot.storage.base import DONE, NEW, PENDING
from bot.storage.postgres import PostgresBotStorage
from bot.storage.sqlite import SQLiteBotStorage


@pytest.fixture(params=["sqlite", "postgres"])
def reopen(request, tmp_path):
    """Factory opening the same bot store again (as a restarted or second bot process would)."""
    opened = []

    def factory():
        if request.param == "sqlite":
            store = SQLiteBotStorage(tmp_path / "feedback.sqlite3")
        else:
            store = PostgresBotStorage(request.getfixturevalue("pg_url"))
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def test_votes_and_questions_survive_reopening(reopen):
    store = reopen()
    key = store.remember("When did talks stop?", [11, 12], user_id=5, chat_id=5, answered=True, extra={"q": [1]})
    assert len(key.encode()) <= 12
    assert store.vote(key, 5, +1).passage_ids == [11, 12]
    store.vote(key, 5, -1)
    store.vote(key, 6, +1)
    assert store.vote("nope", 1, 1) is None and store.question("nope") is None
    again = reopen()
    assert [(v.user_id, v.vote) for v in again.votes()] == [(5, -1), (6, 1)]
    assert (again.tally(key).up, again.tally(key).down) == (1, 1)
    stored = again.question(key)
    assert (stored.question, stored.passage_ids, stored.answered, stored.extra) == ("When did talks stop?", [11, 12], True, {"q": [1]})


def test_answer_messages_lead_reactions_back_to_their_question_and_votes_can_be_withdrawn(reopen):
    store = reopen()
    key = store.remember("When did talks stop?", [11], user_id=5, chat_id=5, answered=True)
    store.attach(key, 5, 77)
    store.vote(key, 5, +1)
    store.vote(key, 6, -1)
    store.unvote(key, 5)
    store.unvote(key, 99)  # never voted: nothing happens
    again = reopen()
    assert again.key_at(5, 77) == key and again.key_at(5, 78) is None and again.key_at(6, 77) is None
    assert (again.tally(key).up, again.tally(key).down) == (0, 1)


def test_journal_new_pending_done_and_prune(reopen):
    store = reopen()
    assert store.receive(1, 100, 7, {"message": {"text": "привет"}}, at=10.0) == NEW
    assert store.receive(1, 101, 7, {"message": {"text": "second"}}, at=11.0) == NEW
    other = reopen()  # a restarted process sees what the dead one never finished
    assert other.receive(1, 100, 7, {}, at=12.0) == PENDING
    assert [(e.update_id, e.payload) for e in other.unfinished(1)] == [(100, {"message": {"text": "привет"}}),
                                                                     (101, {"message": {"text": "second"}})]
    other.finish(1, 100, at=13.0)
    assert store.receive(1, 100, 7, {}, at=14.0) == DONE
    assert [e.update_id for e in store.unfinished(1)] == [101]
    assert store.unfinished(2) == []
    assert store.prune(before=10.5) == 1
    assert [e.update_id for e in store.unfinished(1)] == [101]


def test_bot_replicas_record_a_redelivered_update_once(pg_url):
    replicas = [PostgresBotStorage(pg_url) for _ in range(4)]
    seen: list[str] = []
    barrier = threading.Barrier(len(replicas))

    def deliver(store):
        barrier.wait()
        seen.append(store.receive(9, 555, 1, {"update_id": 555}, at=1.0))

    threads = [threading.Thread(target=deliver, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == [NEW, PENDING, PENDING, PENDING]  # exactly one replica answers it
    for r in replicas:
        r.close()


def test_the_bot_keeps_its_tables_where_the_corpus_is(tmp_path, pg_url):
    from bot.storage import open_bot_storage
    from retrieval import load_settings

    on_server = open_bot_storage(load_settings(env={}).replace(home=str(tmp_path), database_url=pg_url))
    assert isinstance(on_server, PostgresBotStorage)
    on_server.close()
    local = open_bot_storage(load_settings(env={}).replace(home=str(tmp_path), database_url=""))
    assert isinstance(local, SQLiteBotStorage)
    local.close()
