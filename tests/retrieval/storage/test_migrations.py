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
