"""What only the PostgreSQL engine has: URLs and their secrets, a server that is down, schema migrations
shared by processes, the HNSW path against exact search, the writers' lock, the pool, read-only replicas."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

import numpy as np
import psycopg
import pytest

from retrieval.errors import UserError
from retrieval.types import Document
from retrieval.text.lexical import terms
from retrieval.storage import NewDocument, NewPassage, SearchFilters
from retrieval.storage import Storage, open_postgres
from retrieval.storage import postgres as pg
from retrieval.storage.migrations import TABLE
from retrieval.storage.postgres import safe_location
from retrieval.storage.vectors import postgres as pg_vectors
from tests.conftest import SEED_ARTICLE

TALKS = "Moscow was stopping peace treaty talks with Tokyo"


def test_locations_never_show_the_password(pg_url):
    assert safe_location("postgresql://news:s3cret@db.example:5433/citebot") == "postgresql://news@db.example:5433/citebot"
    assert safe_location("postgresql:///citebot?host=/run/postgresql") == "postgresql:///citebot?host=/run/postgresql"
    with_password = pg_url.replace("postgres@", "postgres:s3cret@")  # trust auth ignores it
    store = open_postgres(with_password)
    assert store.location == pg_url  # the same server and database, without the secret
    store.close()


def test_a_server_that_is_not_there_is_one_line(tmp_path):
    with pytest.raises(UserError) as err:
        open_postgres(f"postgresql://postgres@/nothing?host={tmp_path}")
    message = str(err.value)
    assert "cannot connect to PostgreSQL" in message and "\n" not in message


def test_processes_opening_a_fresh_database_at_once_migrate_it_once(pg_url):
    errors: list[BaseException] = []
    stores: list[Storage] = []

    def open_one() -> None:
        try:
            stores.append(open_postgres(pg_url, pool_size=1))
        except BaseException as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(stores) == 4
    assert {s.schema_version() for s in stores} == {pg.SCHEMA_VERSION}
    assert [m.number for m in pg.MIGRATIONS] == list(range(1, len(pg.MIGRATIONS) + 1))
    for s in stores:
        s.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert conn.execute(f"SELECT count(*) FROM {TABLE} WHERE component = 'corpus'").fetchone()[0] \
            == len(pg.MIGRATIONS)
        conn.execute(f"INSERT INTO {TABLE} VALUES ('corpus', %s, 'later')", (pg.SCHEMA_VERSION + 1,))
    with pytest.raises(UserError, match="newer citebot"):
        open_postgres(pg_url)


def _synthetic_store(url: str, n: int, dim: int = 32) -> tuple[Storage, np.ndarray]:
    rng = np.random.default_rng(5)
    centers = rng.standard_normal((20, dim))
    vectors = centers[rng.integers(0, 20, n)] + 0.6 * rng.standard_normal((n, dim))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    store = open_postgres(url)
    store.embeddings.put("m", {f"e{i}": v for i, v in enumerate(vectors)})
    with store.transaction() as tx:
        for i in range(n):
            text = f"passage {i}"
            tx.insert_document(NewDocument(
                Document(text, date=f"20{10 + i % 10}-01-01", source="A" if i % 5 else "B", path=f"/{i}"),
                content_hash=f"h{i}", title_terms=[], passages=[NewPassage(0, 0, len(text), text, f"e{i}", [(0, len(text))], terms(text))]))
    return store, vectors


def test_hnsw_search_matches_exact_search_also_with_filters(pg_url, monkeypatch):
    store, vectors = _synthetic_store(pg_url, 3000)
    assert store.vectors.sync("m") is True  # the HNSW index is built once ...
    assert store.vectors.sync("m") is False  # ... and then maintained by PostgreSQL
    monkeypatch.setattr(pg_vectors, "EXACT_BELOW", 0)  # walk the graph even for filtered queries
    rng = np.random.default_rng(9)
    queries = vectors[rng.choice(len(vectors), 30, replace=False)] + 0.3 * rng.standard_normal((30, 32))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    source_b = np.array([i % 5 == 0 for i in range(len(vectors))])
    recall, recall_b = [], []
    for q in queries:
        exact = np.argsort(-(vectors @ q))[:10] + 1  # passage ids are 1..n in insertion order
        found = store.vectors.search("m", q, 10)
        assert len(found) == 10
        for hit in found:  # the score is the exact cosine, whatever picked the candidate
            assert hit.score == pytest.approx(float(vectors[hit.passage_id - 1] @ q), abs=1e-5)
        recall.append(len({h.passage_id for h in found} & set(exact.tolist())) / 10)
        sims_b = np.where(source_b, vectors @ q, -np.inf)
        exact_b = np.argsort(-sims_b)[:10] + 1
        found_b = store.vectors.search("m", q, 10, SearchFilters(source="b"))
        assert {h.passage_id % 5 for h in found_b} == {1}  # ids 1, 6, 11, ...: documents from source B
        recall_b.append(len({h.passage_id for h in found_b} & set(exact_b.tolist())) / 10)
    assert np.mean(recall) >= 0.95 and np.mean(recall_b) >= 0.9, (np.mean(recall), np.mean(recall_b))
    assert store.vectors.search("m", np.ones(7, dtype=np.float32), 5) == []  # another model's size
    store.close()


def test_a_second_writer_waits_then_gets_a_busy_line(pg_url, monkeypatch):
    monkeypatch.setattr(pg, "BUSY_TIMEOUT_S", 1.0)
    first, second = open_postgres(pg_url), open_postgres(pg_url)
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with first.transaction():
            inside.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(30)
        started = time.monotonic()
        with pytest.raises(UserError, match="busy"):
            with second.transaction():
                pass
        assert 0.8 < time.monotonic() - started < 10
        assert second.embeddings.put("m", {"x": np.ones(4, dtype=np.float32) / 2})  # the cache never waits for it
    finally:
        release.set()
        holder.join()
    with second.transaction():  # and once the first is done, the second goes through
        pass
    assert second.generation() == 2
    first.close()
    second.close()


def test_the_pool_serves_concurrent_readers(pg_url):
    store, vectors = _synthetic_store(pg_url, 200)
    expected = [h.passage_id for h in store.vectors.search("m", vectors[3], 5)]
    results, errors = [], []

    def reader() -> None:
        try:
            for _ in range(10):
                results.append([h.passage_id for h in store.vectors.search("m", vectors[3], 5)])
                store.lexical.search(["passag"], 5)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(12)]  # more threads than pooled connections
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 120 and all(r == expected for r in results)
    store.close()


def test_a_read_only_replica_answers_questions_and_refuses_writes(make_corpus, tmp_path, pg_url):
    corpus = make_corpus(tmp_path / "h", database_url=pg_url)
    corpus.add_paths([SEED_ARTICLE])
    corpus.close()
    dbname = pg_url.split("@/")[1].split("?")[0]
    with psycopg.connect(pg_url, autocommit=True) as conn:  # what a hot standby looks like to a client
        conn.execute(f'ALTER DATABASE "{dbname}" SET default_transaction_read_only = on')
    replica = make_corpus(tmp_path / "h2", database_url=pg_url)
    answer = replica.ask("why did the talks between Moscow and Tokyo stop?")  # a new question: its vector is not cached
    assert answer.answered and TALKS in answer.citations[0].passage
    with pytest.raises(UserError, match="read-only"):
        replica.remove(1)
    assert replica.verify().ok


def test_connections_the_server_dropped_are_replaced(pg_url):
    """A server restart or a failover drops every connection: the next question still gets an answer."""
    store, vectors = _synthetic_store(pg_url, 20)
    assert store.vectors.search("m", vectors[0], 3)[0].passage_id == 1
    with psycopg.connect(pg_url, autocommit=True) as conn:
        dropped = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
    assert dropped >= 1
    assert store.vectors.search("m", vectors[0], 3)[0].passage_id == 1
    assert store.counts().documents == 20
    store.close()


@contextmanager
def _build_waiting(pg_url: str, store, vector: np.ndarray) -> Iterator[tuple[threading.Thread, list[bool]]]:
    """``store`` building model m's graph in a thread, held in the build's waiting phase by an uncommitted
    write to the table being indexed until the block ends; yields the thread and what its sync returns."""
    open_tx = psycopg.connect(pg_url)
    open_tx.execute("INSERT INTO embeddings(model, text_hash, vector) VALUES ('m', 'open', %s::vector)",
                    (str(vector.tolist()),))
    built: list[bool] = []
    builder = threading.Thread(target=lambda: built.append(store.vectors.sync("m")))
    builder.start()
    try:
        with psycopg.connect(pg_url, autocommit=True) as watch:
            for _ in range(300):  # until the build is under way, waiting for the open transaction
                if watch.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'CREATE INDEX%%' "
                                 "AND wait_event_type = 'Lock'").fetchone()[0]:
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the index build never started")
        yield builder, built
    finally:
        open_tx.commit()
        open_tx.close()
        builder.join(60)


def test_building_the_vector_index_does_not_stop_writers(pg_url, monkeypatch):
    """The graph is built with CREATE INDEX CONCURRENTLY: while the build waits for an open write
    transaction, another process still stores vectors (a plain build would queue them behind it)."""
    monkeypatch.setattr(pg, "BUSY_TIMEOUT_S", 2.0)
    store, vectors = _synthetic_store(pg_url, 200)
    writer = open_postgres(pg_url)
    with _build_waiting(pg_url, store, vectors[0]) as (builder, built):
        fresh = vectors[1] + vectors[2]
        writer.embeddings.put("m", {"during-the-build": fresh / np.linalg.norm(fresh)})  # not "busy"
        assert builder.is_alive()
    assert built == [True]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        valid = conn.execute("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                             "WHERE c.relname = %s", (pg_vectors.index_name("m"),)).fetchone()
    assert valid == (True,)
    assert writer.embeddings.cached("m", ["during-the-build"])
    writer.close()
    store.close()


def test_an_index_build_left_invalid_is_built_again(pg_url):
    store, vectors = _synthetic_store(pg_url, 300)
    name = pg_vectors.index_name("m")
    with psycopg.connect(pg_url, autocommit=True) as conn:  # an interrupted concurrent build leaves this
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(f'CREATE UNIQUE INDEX CONCURRENTLY "{name}" ON embeddings ((1))')
    assert store.vectors.sync("m") is True
    with psycopg.connect(pg_url, autocommit=True) as conn:
        definition = conn.execute("SELECT i.indisvalid, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c "
                                  "ON c.oid = i.indexrelid WHERE c.relname = %s", (name,)).fetchone()
    assert definition[0] is True and "hnsw" in definition[1]
    hits = store.vectors.search("m", vectors[7], 5)
    assert hits[0].passage_id == 8
    store.close()


def _waiting_backends(conn: psycopg.Connection) -> int:
    return conn.execute("SELECT count(*) FROM pg_locks WHERE NOT granted").fetchone()[0]


def test_a_batch_of_vectors_caught_in_a_deadlock_is_written_again_not_reported_as_a_lost_connection(pg_url):
    """Two sync processes indexing the same articles store overlapping vectors at once. Another
    transaction holds one of the batch's rows and then wants one the batch already wrote: PostgreSQL
    breaks the deadlock by rolling the batch back (an OperationalError, which used to be reported as "lost
    or could not open the connection" and failed the sync). The batch is written again and succeeds."""
    store = open_postgres(pg_url)
    first = np.eye(3, dtype=np.float32)
    assert store.embeddings.put("m", {"a": first[2]})  # the model is registered before the race
    other = psycopg.connect(pg_url)  # the other process: a transaction left open
    watch = psycopg.connect(pg_url, autocommit=True)
    model_row = other.execute("SELECT model, text_hash FROM embeddings LIMIT 1").fetchone()
    insert = "INSERT INTO embeddings(model, text_hash, vector) SELECT model, %s, vector FROM embeddings WHERE text_hash = 'a'"
    other.execute(insert, ("k2",))  # holds k2, uncommitted
    outcome: list[object] = []

    def put() -> None:
        try:
            outcome.append(store.embeddings.put("m", {"k2": first[1], "k1": first[0]}))  # writes k1, waits on k2
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            outcome.append(exc)

    worker = threading.Thread(target=put)
    worker.start()
    deadline = time.monotonic() + 30
    while _waiting_backends(watch) == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _waiting_backends(watch) == 1 and model_row is not None  # the batch waits on k2
    try:
        other.execute(insert, ("k1",))  # and the other transaction on k1: a cycle, broken after deadlock_timeout
    except psycopg.errors.DeadlockDetected:  # pragma: no cover - PostgreSQL chose this side instead
        other.rollback()
    else:
        other.commit()
    worker.join(60)
    assert outcome == [True], outcome
    assert sorted(store.embeddings.cached("m", ["k1", "k2"])) == ["k1", "k2"]
    other.close()
    watch.close()
    store.close()


def test_a_write_conflict_is_told_as_one_not_as_a_lost_connection():
    errors = pg.Errors("postgresql://news@db.example/citebot")
    for exc in (psycopg.errors.DeadlockDetected("deadlock detected\nDETAIL: Process 1 waits ..."),
                psycopg.errors.SerializationFailure("could not serialize access due to concurrent update")):
        mapped = errors.translate(exc)
        assert isinstance(mapped, pg.WriteConflict) and mapped.code == "store_busy"
        message = str(mapped)
        assert "another citebot process wrote the same rows" in message and "run the command again" in message
        assert "lost" not in message and "\n" not in message
    lost = errors.translate(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert not isinstance(lost, pg.WriteConflict) and "lost or could not open the connection" in str(lost)


def test_a_process_finding_the_vector_index_being_built_does_not_wait_for_it(pg_url):
    """While one process builds the graph (CREATE INDEX CONCURRENTLY, which waits for every open
    transaction), another process's sync does not queue behind the build's lock: waiting there, inside a
    statement the build in turn waited for, was a deadlock that failed a `citebot sync`. It builds
    nothing, its searches scan meanwhile, and a later sync finds the graph."""
    store, vectors = _synthetic_store(pg_url, 200)
    other = open_postgres(pg_url)
    with _build_waiting(pg_url, store, vectors[0]) as (builder, built):
        synced: list[bool] = []
        second = threading.Thread(target=lambda: synced.append(other.vectors.sync("m")))
        second.start()
        second.join(20)
        assert not second.is_alive() and synced == [False]  # returned at once, built nothing
        assert other.vectors.search("m", vectors[7], 3)[0].passage_id == 8  # searching meanwhile
        assert builder.is_alive()
    assert built == [True]
    assert other.vectors.sync("m") is False and other.vectors.search("m", vectors[7], 3)[0].passage_id == 8
    other.close()
    store.close()
