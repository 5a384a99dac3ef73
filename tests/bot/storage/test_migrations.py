"""The bot's tables on the library's one migration runner: files and databases written before it open
unchanged, with their rows, and are recorded at the version they hold."""
from __future__ import annotations

import json
import sqlite3

from bot.storage.postgres import MIGRATIONS as PG_MIGRATIONS
from bot.storage.postgres import PostgresBotStorage
from bot.storage.sqlite import MIGRATIONS, SQLiteBotStorage
from retrieval.storage.migrations import TABLE

QUESTIONS = ("CREATE TABLE questions (key TEXT PRIMARY KEY, question TEXT NOT NULL, passage_ids TEXT NOT NULL, "
             "user_id INTEGER, chat_id INTEGER, answered INTEGER NOT NULL, created REAL NOT NULL{extra})")
FEEDBACK = ("CREATE TABLE feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, question TEXT NOT NULL, "
            "passage_ids TEXT NOT NULL, user_id INTEGER, vote INTEGER NOT NULL, created REAL NOT NULL, "
            "UNIQUE (key, user_id))")
JOURNAL = ("CREATE TABLE journal (bot_id INTEGER NOT NULL, update_id INTEGER NOT NULL, chat_id INTEGER, "
           "received REAL NOT NULL, finished REAL, payload TEXT, PRIMARY KEY (bot_id, update_id))")


def _old_file(path, *, journal: bool) -> None:
    """A feedback.sqlite3 as a release before the runner wrote it (with or without the journal)."""
    with sqlite3.connect(path) as db:
        db.execute(QUESTIONS.format(extra=", extra TEXT" if journal else ""))
        db.execute(FEEDBACK)
        if journal:
            db.execute(JOURNAL)
            db.execute("INSERT INTO journal VALUES (1, 100, 7, 10.0, NULL, ?)", (json.dumps({"update_id": 100}),))
        db.execute("INSERT INTO questions (key, question, passage_ids, user_id, chat_id, answered, created) "
                   "VALUES ('k1', 'When?', '[3, 4]', 5, 5, 1, 1.0)")
        db.execute("INSERT INTO feedback (key, question, passage_ids, user_id, vote, created) "
                   "VALUES ('k1', 'When?', '[3, 4]', 5, 1, 2.0)")


def _recorded(path) -> list[tuple[str, int]]:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT component, version FROM {TABLE} ORDER BY version").fetchall()


def test_a_file_of_the_previous_release_opens_with_its_rows_and_is_recorded(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    _old_file(path, journal=True)
    store = SQLiteBotStorage(path)
    assert store.question("k1").passage_ids == [3, 4] and store.tally("k1").up == 1
    assert [e.update_id for e in store.unfinished(1)] == [100]
    store.close()
    assert _recorded(path) == [("bot", n) for n in range(1, len(MIGRATIONS) + 1)]


def test_a_file_from_before_the_journal_is_upgraded(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    _old_file(path, journal=False)
    store = SQLiteBotStorage(path)
    assert store.question("k1").question == "When?"
    key = store.remember("Why?", [1], user_id=1, chat_id=1, answered=True, extra={"quotes": [1]})
    assert store.question(key).extra == {"quotes": [1]}  # the column the journal release added
    assert store.receive(1, 200, 1, {"update_id": 200}, at=1.0) == "new"
    store.close()
    every = [("bot", n) for n in range(1, len(MIGRATIONS) + 1)]
    assert _recorded(path) == every
    SQLiteBotStorage(path).close()  # opening again applies nothing
    assert _recorded(path) == every


def test_a_postgres_database_of_the_previous_release_opens_unchanged(pg_url):
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:  # as the previous release migrated it
        conn.execute(PG_MIGRATIONS[0].script)
        conn.execute("CREATE TABLE bot_schema_migrations (version integer PRIMARY KEY, applied double precision NOT NULL)")
        conn.execute("INSERT INTO bot_schema_migrations VALUES (1, 1.0)")
        conn.execute("INSERT INTO bot_questions (key, question, passage_ids, answered, created) "
                     "VALUES ('k1', 'When?', '[3]', true, 1.0)")
    store = PostgresBotStorage(pg_url)
    assert store.question("k1").passage_ids == [3]
    store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # recorded at its version, then only what came after it (the answer messages behind reaction votes)
        assert conn.execute(f"SELECT component, version FROM {TABLE}").fetchall() == \
            [("bot", n) for n in range(1, len(PG_MIGRATIONS) + 1)]
        assert conn.execute("SELECT version FROM bot_schema_migrations").fetchall() == [(1,)]
