"""The one migration runner: each component's migrations apply once, in order, on both engines; a newer
schema is refused with one line; a failing migration leaves the previous version whole."""
from __future__ import annotations

import sqlite3

import pytest

from retrieval.storage.migrations import (Migration, SchemaTooNew, applied_postgres, applied_sqlite,
                                          apply_postgres, apply_sqlite)

V1 = [Migration(1, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")]
V2 = V1 + [Migration(2, "ALTER TABLE notes ADD COLUMN tag TEXT")]
BROKEN = V1 + [Migration(2, "ALTER TABLE notes ADD COLUMN tag TEXT; THIS IS NOT SQL")]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    """(apply, applied, execute) bound to a fresh database of each engine."""
    if request.param == "sqlite":
        conn = sqlite3.connect(tmp_path / "m.sqlite3", isolation_level=None)
        yield (lambda comp, migs: apply_sqlite(conn, comp, migs), lambda comp: applied_sqlite(conn, comp),
               lambda sql: conn.execute(sql))
        conn.close()
    else:
        import psycopg

        url = request.getfixturevalue("pg_url")
        conn = psycopg.connect(url, autocommit=True)
        yield (lambda comp, migs: apply_postgres(conn, comp, migs), lambda comp: applied_postgres(conn, comp),
               lambda sql: conn.execute(sql))
        conn.close()


def test_applies_in_order_once_per_component(engine):
    apply, applied, execute = engine
    assert applied("notes") == 0
    assert apply("notes", V1) == 1
    assert apply("notes", V2) == 2
    assert apply("notes", V2) == 2  # again: nothing to do, nothing fails
    execute("INSERT INTO notes (id, body, tag) VALUES (1, 'x', 'y')")
    assert applied("other") == 0  # components are counted apart
    assert apply("other", [Migration(1, "CREATE TABLE other_things (id INTEGER)")]) == 1
    assert applied("notes") == 2


def test_newer_schema_is_refused_with_one_line(engine):
    apply, _, _ = engine
    apply("notes", V2)
    with pytest.raises(SchemaTooNew) as caught:
        apply("notes", V1)
    assert caught.value.code == "schema_too_new"
    assert "newer citebot" in str(caught.value) and "\n" not in str(caught.value)


def test_failing_migration_leaves_the_previous_version_whole(engine):
    apply, applied, execute = engine
    apply("notes", V1)
    with pytest.raises(Exception):
        apply("notes", BROKEN)
    assert applied("notes") == 1
    execute("INSERT INTO notes (id, body) VALUES (2, 'still works')")
    with pytest.raises(Exception):  # the half of migration 2 that ran was rolled back with it
        execute("SELECT tag FROM notes")


# -- stores written before the runner ---------------------------------------------------------------
def test_a_sqlite_index_of_the_previous_release_is_recorded_at_its_version_unchanged(tmp_path):
    """The v1 index kept its version in PRAGMA user_version: it opens as version 1, recorded in the one
    table, its user_version left as it was."""
    import shutil
    from pathlib import Path

    from retrieval.storage import open_sqlite
    from retrieval.storage.migrations import TABLE
    from retrieval.storage.sqlite import STORE_FILE

    home = tmp_path / "v1"
    shutil.copytree(Path(__file__).parent / "data" / "v1-index", home)
    with sqlite3.connect(home / STORE_FILE) as db:
        assert db.execute("SELECT name FROM sqlite_master WHERE name = ?", (TABLE,)).fetchone() is None
    store = open_sqlite(home)
    assert store.schema_version() == 1 and store.counts().documents == 2
    store.close()
    with sqlite3.connect(home / STORE_FILE) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert db.execute(f"SELECT component, version FROM {TABLE}").fetchall() == [("corpus", 1)]


def _as_previous_release(url: str, version: int) -> None:
    """Make a database look as the previous release left it: its tables, versions in
    ``schema_migrations``, no runner table."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE citebot_migrations")
        conn.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied text NOT NULL)")
        for number in range(1, version + 1):
            conn.execute("INSERT INTO schema_migrations VALUES (%s, '2025-01-01T00:00:00Z')", (number,))


def test_a_postgres_corpus_of_the_previous_release_opens_unchanged(pg_url):
    import psycopg

    from retrieval import Document
    from retrieval.storage import NewDocument, NewPassage, open_postgres
    from retrieval.storage.migrations import TABLE

    store = open_postgres(pg_url)
    text = "Talks stopped in March."
    with store.transaction() as tx:
        tx.insert_document(NewDocument(Document(text, title="T"), content_hash="h", title_terms=["t"],
                                       passages=[NewPassage(0, 0, len(text), text, "e", [(0, len(text))], ["talk"])]))
    store.close()
    _as_previous_release(pg_url, 1)
    reopened = open_postgres(pg_url)
    assert reopened.schema_version() == 1 and reopened.counts().documents == 1
    assert [h.passage_id for h in reopened.lexical.search(["talk"], 5)] == [1]
    reopened.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute("SELECT version FROM schema_migrations").fetchall() == [(1,)]  # left as it was
        assert conn.execute(f"SELECT component, version FROM {TABLE}").fetchall() == [("corpus", 1)]


def test_a_postgres_corpus_of_a_newer_legacy_version_is_refused(pg_url):
    from retrieval.storage import open_postgres

    open_postgres(pg_url).close()
    _as_previous_release(pg_url, 2)
    with pytest.raises(SchemaTooNew, match="newer citebot"):
        open_postgres(pg_url)
