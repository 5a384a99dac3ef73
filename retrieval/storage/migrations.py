"""One migration runner for every set of tables, on both engines.

Each storage part (the corpus, the bot's tables, source state, watches, API keys, ...) declares its
schema as a numbered list of :class:`Migration` under a component name and calls :func:`apply_sqlite` or
:func:`apply_postgres` when it opens its store. Applied migrations are recorded in one table,
``citebot_migrations (component, version, applied)``, so `citebot verify` and a reader can tell what a
database holds, and a database written by a newer citebot is refused with one line instead of being
half-understood. Each migration runs once, in its own transaction together with its record: a killed
process leaves the previous version whole. On PostgreSQL an advisory lock serialises concurrent
starters (two replicas starting at once apply each migration once).

**Stores written before this runner.** The corpus used SQLite's ``PRAGMA user_version`` and a PostgreSQL
``schema_migrations`` table, the bot a ``bot_schema_migrations`` table (and, in SQLite, a column check).
A component passes ``legacy``, a function reading the version the old mechanism recorded: with no record
yet, those migrations are recorded as applied without running them (the tables are there), and the old
markers are left as they were; a legacy version above the newest migration is refused like a newer
record (an older release's marker saying a newer citebot wrote the store). A read-only store whose legacy version is already the newest opens
without the record (it is written the next time the store is opened writable).
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from ..errors import UserError

TABLE = "citebot_migrations"
_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (component TEXT NOT NULL, version INTEGER NOT NULL, "
           f"applied TEXT NOT NULL, PRIMARY KEY (component, version))")


@dataclass(frozen=True)
class Migration:
    """Schema change ``number`` of a component: one SQL script in the engine's dialect. Shipped
    migrations are frozen text: a later change is a new number, never an edit."""

    number: int
    script: str


class SchemaTooNew(UserError):
    """The database was written by a newer citebot: refuse rather than misread it."""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check(component: str, migrations: Sequence[Migration]) -> int:
    numbers = [m.number for m in migrations]
    if numbers != sorted(set(numbers)) or not numbers or numbers[0] < 1:
        raise ValueError(f"migrations of {component!r} must be numbered 1, 2, ... in order")
    return numbers[-1]


def _too_new(component: str, version: int, where: str) -> SchemaTooNew:
    return SchemaTooNew(f"the {component} tables in {where} were written by a newer citebot (schema {version}); "
                        f"upgrade citebot", code="schema_too_new", component=component, version=version)


def applied_sqlite(conn: Any, component: str) -> int:
    """The newest applied migration of ``component`` in a SQLite database (0 when none)."""
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (TABLE,)).fetchone():
        return 0
    row = conn.execute(f"SELECT COALESCE(max(version), 0) FROM {TABLE} WHERE component = ?", (component,)).fetchone()
    return int(row[0])


Legacy = Callable[[Any], int]  # reads the version an older mechanism recorded (0: none) from a connection


def apply_sqlite(conn: Any, component: str, migrations: Sequence[Migration], where: str = "the index",
                 legacy: Legacy | None = None) -> int:
    """Apply the missing migrations of ``component`` on a ``sqlite3`` connection (autocommit mode,
    ``isolation_level=None``, or a connection with no open transaction). Returns the version now applied.

    ``executescript`` commits whatever is open first, so each migration is one script with its record
    inside ``BEGIN IMMEDIATE ... COMMIT``: another process waits on the write lock and then sees the
    record."""
    newest = _check(component, migrations)
    version = applied_sqlite(conn, component)
    old = legacy(conn) if legacy is not None else 0
    if old > newest:  # an older release's marker says a newer citebot wrote it
        raise _too_new(component, old, where)
    if version == 0 and old:
        version = _adopt(lambda: _record_sqlite(conn, component, old), old, newest)
    if version == newest:
        return version  # nothing to write: also how a read-only store is opened
    if version > newest:
        raise _too_new(component, version, where)
    conn.executescript(f"BEGIN IMMEDIATE; {_CREATE}; COMMIT;")
    for migration in migrations:
        if migration.number <= version:
            continue
        script = migration.script.strip().rstrip(";")
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{script};\n"
                f"INSERT OR IGNORE INTO {TABLE} (component, version, applied) "
                f"VALUES ('{_sql_text(component)}', {int(migration.number)}, '{_now()}');\nCOMMIT;")
        except BaseException:
            if conn.in_transaction:  # a statement failed mid-script: nothing of this migration stays
                conn.execute("ROLLBACK")
            raise
    return applied_sqlite(conn, component)


def _adopt(record: Callable[[], None], old: int, newest: int) -> int:
    """Record a legacy version as applied; a store that cannot be written (a read-only file or replica)
    and needs no migration opens all the same."""
    try:
        record()
    except Exception:
        if old < newest:
            raise
    return old


def _record_sqlite(conn: Any, component: str, version: int) -> None:
    values = ", ".join(f"('{_sql_text(component)}', {n}, '{_now()}')" for n in range(1, version + 1))
    try:
        conn.executescript(f"BEGIN IMMEDIATE; {_CREATE}; INSERT OR IGNORE INTO {TABLE} (component, version, applied) "
                           f"VALUES {values}; COMMIT;")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def applied_postgres(conn: Any, component: str) -> int:
    """The newest applied migration of ``component`` in a PostgreSQL database (0 when none)."""
    if conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()[0] is None:
        return 0
    row = conn.execute(f"SELECT COALESCE(max(version), 0) FROM {TABLE} WHERE component = %s", (component,)).fetchone()
    return int(row[0])


def lock_key(component: str) -> int:
    """The advisory-lock key that serialises one component's migrations across processes."""
    return zlib.crc32(f"citebot-migrate:{component}".encode())


def apply_postgres(conn: Any, component: str, migrations: Sequence[Migration], where: str = "the database",
                   legacy: Legacy | None = None) -> int:
    """Apply the missing migrations of ``component`` on an autocommit ``psycopg`` connection, each in
    its own transaction under an advisory lock (re-checked inside, so concurrent starters apply each
    migration once). Returns the version now applied."""
    newest = _check(component, migrations)
    version = applied_postgres(conn, component)
    key = lock_key(component)
    old = legacy(conn) if legacy is not None else 0
    if old > newest:
        raise _too_new(component, old, where)
    if version == 0 and old:
        version = _adopt(lambda: _record_postgres(conn, component, old, key), old, newest)
    if version == newest:
        return version
    if version > newest:
        raise _too_new(component, version, where)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        conn.execute(_CREATE)
    for migration in migrations:
        if migration.number <= version:
            continue
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
            if conn.execute(f"SELECT 1 FROM {TABLE} WHERE component = %s AND version = %s",
                            (component, migration.number)).fetchone():
                continue  # another process applied it while we waited
            conn.execute(migration.script)
            conn.execute(f"INSERT INTO {TABLE} (component, version, applied) VALUES (%s, %s, %s)",
                         (component, migration.number, _now()))
    return applied_postgres(conn, component)


def _record_postgres(conn: Any, component: str, version: int, key: int) -> None:
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
        conn.execute(_CREATE)
        for number in range(1, version + 1):
            conn.execute(f"INSERT INTO {TABLE} (component, version, applied) VALUES (%s, %s, %s) "
                         f"ON CONFLICT DO NOTHING", (component, number, _now()))


def legacy_table(table: str) -> Legacy:
    """The legacy reader for a PostgreSQL ``(version integer PRIMARY KEY, applied ...)`` table."""
    def read(conn: Any) -> int:
        if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
            return 0
        return int(conn.execute(f"SELECT COALESCE(max(version), 0) FROM {_sql_text(table)}").fetchone()[0])
    return read


def _sql_text(value: str) -> str:
    if not value.replace("_", "").isalnum():
        raise ValueError(f"component names are letters, digits and _: {value!r}")
    return value
