"""Concurrency: a reader process answering questions while a writer process adds, removes and replaces
documents on the same index, and two writers at once.

The reader never sees a half-added document (a document listed with fewer passages than it has, a
lexical search finding only some of its passages, a replaced document present twice or not at all),
never gets an error, and picks up every change: new documents are found (lexically and by the dense
index), removed ones disappear. A second writer waits for the first and loses nothing.
"""
from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from retrieval.errors import UserError

from ..conftest import ROOT
from .conftest import (check_whole_or_absent, citebot, citebot_argv, cli_env, dense_ids, expected, read_store,
                       write_docs)

PICKUP_TIMEOUT_S = 120  # liveness bound only: how long the reader may take to notice a change

READER = r"""
import json, sys, time
from retrieval import Corpus, load_settings
from tests.fakes.hash_embedder import HashEmbedder  # the fixtures' embedder: atomicity needs no model
topics = json.loads(sys.argv[1])
stop = sys.argv[2]
corpus = Corpus.open(load_settings(), embedder=HashEmbedder())
corpus.search("warm up", k=1)
print(json.dumps({"ready": True}), flush=True)
import os
n = 0
while not os.path.exists(stop):
    for topic in topics:
        obs = {"topic": topic["title"], "t0": time.time()}
        try:
            obs["lexical"] = [h.title for h in corpus.search(topic["marker"], k=50, mode="lexical")]
            top = corpus.search(topic["probe"], k=1, mode="dense")
            obs["dense"] = top[0].title if top else None
            obs["docs"] = {d.title: d.passages for d in corpus.documents()}
            if n % 3 == 0:
                answer = corpus.ask(f"What does the {topic['marker']} report say?")
                obs["cited"] = [c.title for c in answer.citations]
        except Exception as exc:
            obs["error"] = f"{type(exc).__name__}: {exc}"
        obs["t1"] = time.time()
        n += 1
        print(json.dumps(obs), flush=True)
        time.sleep(0.005)  # busy, but leaves the writers some CPU on a 2-core machine
"""

WRITER = r"""
import json, sys, time
import retrieval.storage.sqlite as store_mod
from retrieval import Corpus, load_settings


class Delayed:  # statements inside a write transaction 20 ms late: a half-done write stays visible
    def __init__(self, conn):  # long enough for the reader to catch it, if writes were not atomic
        self._conn = conn

    def execute(self, *args):
        if self._conn.in_transaction:
            time.sleep(0.02)
        return self._conn.execute(*args)

    def executemany(self, *args):
        if self._conn.in_transaction:
            time.sleep(0.02)
        return self._conn.executemany(*args)

    def __getattr__(self, name):
        return getattr(self._conn, name)


_store_init = store_mod.SQLiteDatabase.__init__


def store_init(self, home, *args, **kwargs):
    _store_init(self, home, *args, **kwargs)
    self.conn = Delayed(self.conn)


store_mod.SQLiteDatabase.__init__ = store_init
from tests.fakes.hash_embedder import HashEmbedder  # the fixtures' embedder: atomicity needs no model
corpus = Corpus.open(load_settings(), embedder=HashEmbedder())
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    out = []
    if cmd["op"] == "add":
        for path in cmd["paths"]:  # one file at a time: one commit each
            out += [[r.status, r.doc_id, r.message] for r in corpus.add_paths([path])]
    else:
        for ref in cmd["ids"]:
            out.append(corpus.remove(ref).title)
    print(json.dumps(out), flush=True)
"""


class Proc:
    def __init__(self, code: str, home: Path, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-c", code, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=cli_env(home), cwd=ROOT)

    def line(self) -> dict | list:
        text = self.proc.stdout.readline()
        assert text, self.proc.stderr.read()
        return json.loads(text)

    def send(self, **cmd) -> None:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def call(self, **cmd) -> list:
        self.send(**cmd)
        return self.line()


class Observations:
    """Collects the reader's lines in a thread, so the test can wait for a state it must reach."""

    def __init__(self, reader: Proc) -> None:
        self.items: list[dict] = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._pump, args=(reader,), daemon=True)
        self.thread.start()

    def _pump(self, reader: Proc) -> None:
        for text in reader.proc.stdout:
            with self.cond:
                self.items.append(json.loads(text))
                self.cond.notify_all()

    def wait_for(self, title: str, since: float, present: bool) -> dict:
        """The first observation of ``title`` begun after ``since`` that shows it present (or absent)
        in every view: the document list, lexical search and the dense index."""
        deadline = time.time() + PICKUP_TIMEOUT_S
        with self.cond:
            while True:
                for obs in self.items:
                    if obs["topic"] != title or obs["t0"] <= since or "error" in obs:
                        continue
                    shown = (title in obs["docs"], title in obs["lexical"], obs["dense"] == title)
                    if shown == (present,) * 3:
                        return obs
                remaining = deadline - time.time()
                assert remaining > 0, f"the reader never saw {title!r} {'added' if present else 'removed'}"
                self.cond.wait(remaining)


def topic(path: Path) -> tuple[dict, int]:
    exp = expected(path)
    marker = next(w for w in exp.passages[0].split() if "marker" in w)
    return {"title": exp.title, "marker": marker, "probe": exp.passages[0]}, len(exp.passages)


def test_reader_never_sees_half_documents_and_picks_up_changes(tmp_path, make_corpus):
    """One reader, and two writers that add at the same moment (the second waits for the lock)."""
    home = tmp_path / "index"
    other = write_docs(tmp_path / "other", 4, seed=5, prefix="other")
    base = write_docs(tmp_path / "base", 2, seed=1, prefix="base")
    fresh = write_docs(tmp_path / "fresh", 6, seed=2, prefix="fresh", sentences=14)
    (replaced,) = write_docs(tmp_path / "rep", 1, seed=3, prefix="rep")
    corpus = make_corpus(home)  # the base documents, added in-process with the session model
    assert [r.status for r in corpus.add_paths(base)] == ["added", "added"]
    corpus.close()

    topics, sizes = [], {}
    for path in [*base, *fresh, replaced]:
        t, n = topic(path)
        topics.append(t)
        sizes[t["title"]] = n
    for path in other:  # not watched by the reader, but listed by it
        exp = expected(path)
        sizes[exp.title] = len(exp.passages)
    old_title = topics[-1]["title"]
    v2_text = replaced.read_text().replace("Rep number 0", "Rep version two").replace("repmarker0", "repmarkerv2")
    v2 = tmp_path / "v2.txt"
    v2.write_text(v2_text)
    t2, n2 = topic(v2)
    new_title = t2["title"]
    topics.append(t2)
    sizes[new_title] = n2

    stop = tmp_path / "stop"
    reader = Proc(READER, home, json.dumps(topics), str(stop))
    writer = Proc(WRITER, home)
    second = Proc(WRITER, home)
    try:
        assert reader.line() == {"ready": True}
        assert writer.line() == {"ready": True}
        assert second.line() == {"ready": True}
        seen = Observations(reader)

        # add six documents and a seventh that is later replaced, one commit each, while a second
        # writer adds four others at the same moment
        start = time.time()
        second.send(op="add", paths=[str(p) for p in other])
        results = writer.call(op="add", paths=[str(p) for p in [*fresh, replaced]])
        others = second.line()
        added = time.time()
        assert [r[0] for r in results] == ["added"] * 7, results
        assert [r[0] for r in others] == ["added"] * 4, others
        for t in topics[2:9]:
            seen.wait_for(t["title"], added, present=True)
        during = [o for o in seen.items if start < o["t0"] and o["t1"] < added]
        assert during, "the reader made no observation while the writer was adding"

        # remove three of them
        ids = [r[1] for r in results[:3]]
        assert writer.call(op="remove", ids=ids) == [t["title"] for t in topics[2:5]]
        removed = time.time()
        for t in topics[2:5]:
            seen.wait_for(t["title"], removed, present=False)

        # replace one document in place (same path, new text): one transaction swaps the two versions
        replaced.write_text(v2_text)
        results = writer.call(op="add", paths=[str(replaced)])
        assert [r[0] for r in results] == ["replaced"], results
        swapped = time.time()
        seen.wait_for(new_title, swapped, present=True)
        seen.wait_for(old_title, swapped, present=False)
    finally:
        stop.touch()
        writer.proc.stdin.close()
        second.proc.stdin.close()
        for proc in (reader, writer, second):
            try:
                proc.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:  # pragma: no cover - a hung process is itself a failure
                proc.proc.kill()
                raise

    assert reader.proc.returncode == 0, reader.proc.stderr.read()
    assert writer.proc.returncode == 0, writer.proc.stderr.read()
    assert second.proc.returncode == 0, second.proc.stderr.read()
    observations = seen.items
    assert len(observations) > 20
    errors = [o["error"] for o in observations if "error" in o]
    assert not errors, errors
    asks = [o for o in observations if "cited" in o]
    assert asks and any(o["cited"] for o in asks)
    # an answer may cite nothing only when the passages it found were removed while it was composed
    # (it never cites a removed document): the topics of the removed and the replaced documents
    changed = {t["title"] for t in topics[2:5]} | {old_title}
    assert all(o["topic"] in changed for o in asks if not o["cited"]), [o for o in asks if not o["cited"]]
    base_titles = [t["title"] for t in topics[:2]]
    first_v1 = min(o["t0"] for o in observations if old_title in o["docs"])
    for obs in observations:
        # every listed document has all its passages: none is half-added or half-removed
        for title, passages in obs["docs"].items():
            assert passages == sizes[title], (title, passages, obs)
        # a lexical search finds all of a document's passages or none
        for title in set(obs["lexical"]):
            assert obs["lexical"].count(title) == sizes[title], (title, obs)
        assert all(title in obs["docs"] for title in base_titles), obs
        if obs["t0"] > first_v1:
            # the replaced document is there exactly once: old or new version, never both or neither
            assert (old_title in obs["docs"]) != (new_title in obs["docs"]), obs
    verify = citebot(home, "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # nothing lost: both writers' documents are all there, whole, in every index
    kept = [*base, *fresh[3:], replaced, *other]
    assert check_whole_or_absent(home, [expected(p) for p in kept], dense_ids(home)) == len(kept)
    assert len(read_store(home)["docs"]) == len(kept)


def test_second_writer_waits_for_the_first_then_succeeds(tmp_path, make_corpus):
    """A writer holding the store's write lock makes `citebot remove` wait, not fail or skip."""
    home = tmp_path / "index"
    paths = write_docs(tmp_path / "docs", 2, seed=21)
    corpus = make_corpus(home)
    assert [r.status for r in corpus.add_paths(paths)] == ["added", "added"]
    corpus.close()
    holder = sqlite3.connect(home / "citebot.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer is in the middle of a transaction
    try:
        proc = subprocess.Popen([*citebot_argv(), "remove", "1"], env=cli_env(home), cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()  # still waiting for the lock
        assert 1 in {d for d, _ in read_store_unlocked(holder)}
    finally:
        holder.execute("COMMIT")
        holder.close()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "removed doc 1" in out
    assert [d for d, _ in read_store(home)["docs"].values()] == [2]


def read_store_unlocked(db: sqlite3.Connection) -> list[tuple[int, str]]:
    return db.execute("SELECT id, title FROM documents").fetchall()


def test_writer_that_cannot_get_the_lock_fails_clearly_and_loses_nothing(tmp_path, make_corpus, monkeypatch):
    """When the lock stays taken past the busy timeout the write fails with one clear line and the
    corpus is as before; once the lock is free the same call succeeds."""
    from retrieval.storage import sqlite as store_mod

    monkeypatch.setattr(store_mod, "BUSY_TIMEOUT_S", 0.5)
    home = tmp_path / "index"
    paths = write_docs(tmp_path / "docs", 3, seed=31)
    corpus = make_corpus(home)
    assert [r.status for r in corpus.add_paths(paths[:2])] == ["added", "added"]
    before = read_store(home)
    holder = sqlite3.connect(home / "citebot.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(UserError, match="busy") as removing:
            corpus.remove(1)
        with pytest.raises(UserError, match="busy") as adding:
            corpus.add_paths(paths[2:])
        for exc in (removing.value, adding.value):
            assert "\n" not in str(exc) and "another citebot process" in str(exc)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert read_store(home) == before
    corpus.remove(1)
    assert [r.status for r in corpus.add_paths(paths[2:])] == ["added"]
    assert sorted(t for _, t in read_store(home)["docs"].values()) == ["Doc number 1", "Doc number 2"]


def test_dense_file_paired_with_another_saves_stamp_is_resynced(tmp_path, make_corpus):
    """Two processes saving the dense index at once can leave one's index file under the other's stamp
    (same count, current generation). Opening must not trust that pair: dense search still finds a
    document replaced in between, and the file on disk is rewritten to match the store."""
    home = tmp_path / "index"
    paths = write_docs(tmp_path / "docs", 3, seed=61)
    corpus = make_corpus(home)
    assert [r.status for r in corpus.add_paths(paths)] == ["added"] * 3
    corpus.search("warm up", k=1)
    older = (home / "dense.faiss").read_bytes()  # process A's save
    paths[1].write_text(paths[1].read_text().replace(" report ", " bulletin "))
    assert [r.status for r in corpus.add_paths([paths[1]])] == ["replaced"]  # process B's save
    corpus.close()
    (home / "dense.faiss").write_bytes(older)  # A's index renamed last, B's stamp renamed last
    reopened = make_corpus(home)
    probe = expected(paths[1]).passages[0]
    hits = reopened.search(probe, k=1, mode="dense")
    assert hits and hits[0].title == "Doc number 1"
    passages = {pid for rows in read_store(home)["passages"].values() for pid, _, _ in rows}
    assert dense_ids(home) == passages


def _race(second, action) -> None:
    """Run ``action`` (the other writer) after ``second`` has prepared its batch but before it writes."""
    original = second.encoder.vectors
    fired = []

    def racing(texts, queries=False, reading=False):
        if not queries and not fired:
            fired.append(True)
            action()
        return original(texts, queries, reading)

    second.encoder.vectors = racing


def test_same_document_added_by_two_writers_at_once_is_stored_once(tmp_path, make_corpus):
    home = tmp_path / "index"
    path, other = write_docs(tmp_path / "docs", 2, seed=91)
    first, second = make_corpus(home), make_corpus(home)
    _race(second, lambda: first.add_paths([path]))
    results = second.add_paths([path, other])  # one batch: the other document must not be lost
    assert [r.status for r in results] == ["duplicate", "added"], results
    assert sorted(t for _, t in read_store(home)["docs"].values()) == ["Doc number 0", "Doc number 1"]
    assert second.verify().ok


def test_same_path_replaced_by_two_writers_at_once_keeps_one_version(tmp_path, make_corpus):
    home = tmp_path / "index"
    (path,) = write_docs(tmp_path / "docs", 1, seed=92)
    first, second = make_corpus(home), make_corpus(home)
    assert first.add_paths([path])[0].status == "added"
    v2, v3 = (path.read_text().replace("Doc number 0", f"Doc version {n}").replace(" report ", f" report{n} ")
              for n in (2, 3))

    def first_replaces() -> None:
        path.write_text(v2)
        assert first.add_paths([path])[0].status == "replaced"
        path.write_text(v3)  # what the second writer had already read

    path.write_text(v3)
    _race(second, first_replaces)
    assert [r.status for r in second.add_paths([path])] == ["replaced"]
    docs = read_store(home)["docs"]
    assert [title for _, title in docs.values()] == ["Doc version 3"]
    assert second.verify().ok
