"""Crash safety: `citebot add DIR` killed with SIGKILL at random moments, at least 20 times in a row.

After every kill the store must open, `citebot verify` must pass, and every document must be wholly
present (its row, every passage, a lexical entry and an embedding per passage, a dense entry after the
derived index is re-synced) or wholly absent. A final rerun of the same add must finish the job and
embed nothing that an earlier, killed run had already stored.

Loading torch and the model takes ~5 s per process on this machine, so a loop of fresh processes would
spend nearly all its kills in the import. The loop therefore has two kinds of victims:

* the installed ``citebot`` console script with the real model, killed at a random moment of its start-up
  (store creation, schema migration, document loading, model loading) -- a few runs, as a user would
  start it;
* children forked from a "zygote" process that has already imported the CLI (no database opened) and
  then run exactly the console script's code, ``retrieval.cli.main(["add", DIR])``, with the
  deterministic hash embedder (tests/fakes/hash_embedder.py) under the real model's name and size:
  what is checked (every document whole or absent, nothing embedded twice) does not depend on what
  the vectors mean, and a child no longer spends seconds loading a model before its first write.
  Kills land both in a child's start-up (store opening, loading and splitting the documents) and in
  its writing phase. The children use a small embedding
  batch (``EMBED_BATCH``) so one add is many separate transactions: more moments where a kill lands
  between two of them. Each child logs the hashes of the texts it sent to the model, which is how the
  test proves that nothing already stored is ever embedded again. Every SQL statement inside a write
  transaction in a child is delayed by 30 ms: a transaction otherwise lasts a few milliseconds against
  ~0.4 s of embedding per batch with the real model, and random kills almost never land inside one
  (checked by mutation: with the document row committed apart from its passages, 20 kills passed at no
  delay and were caught 1 time in 2 at 10 ms, 3 times in 3 at 30 ms). ``citebot verify`` after each kill
  runs the same way (a forked ``main(["verify"])``); the final check runs the console script.

Kill moments follow what the child is doing, not a fixed clock, so a slow or loaded machine costs time,
not coverage. The test watches each forked child from outside: its encode log grows right after each
embedded batch (before the batch is written), the store's document count when a batch is committed.

* A *writing* kill waits for the child's second embedded batch, having timed the first batch's writes
  (from its embedding to its last commit before the next embedding), and kills at a random moment of
  that long after the second one: inside the next batch's transactions, or just past them.
* A *start-up* kill falls at a random moment before the child's first embedded batch (the time to it as
  last measured by a writing run), and at the latest when that batch appears.

A kill counts as a writing one when the child had embedded something or left more documents, else as a
start-up one. The loop runs until it has ``KILLS_WANTED`` kills, ``LOAD_KILLS_WANTED`` start-up and
``WRITING_KILLS_WANTED`` writing ones among them (``MAX_RUNS`` bounds it), and writes fresh documents
whenever fewer than ``WORK_AHEAD`` are left to add, so no child finishes the add before its kill. (It
used to sleep a random 0-7.5 s and stop at 20 kills: under load a child's model load took longer than
that, no kill reached a write, and the test failed on ``0 < progress``; killing at a random moment of a
whole embed + write round instead let the mutation above pass under load, as a round is mostly
embedding. With the kill moments above the mutation was caught 4 runs in 4, 2 of them with the machine
loaded by two busy loops, each time early: in the three runs whose kills were recorded, at the first
forked run's writing kill.)
"""
from __future__ import annotations

import json
import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable


from ..conftest import ROOT, loops
from .conftest import (MODEL, check_whole_or_absent, citebot, citebot_argv, cli_env, dense_ids, expected, read_store,
                       write_docs)

MODEL_DIM = 384  # all-MiniLM-L6-v2's, which the console-script runs of this test use

# `make test` runs a shorter loop (every kind of kill still happens, and each is checked the same way);
# `make test-all` (CITEBOT_TEST_FULL=1) the full counts.
KILLS_WANTED = loops(6, 20)
LOAD_KILLS_WANTED = loops(2, 4)  # forked children killed before they embedded anything (start-up, model load)
WRITING_KILLS_WANTED = loops(3, 8)  # forked children killed while embedding and writing
CONSOLE_KILLS = loops(1, 4)  # the real console script killed during its start-up
SIGINTS = loops(2, 4)  # Ctrl-C at random moments
MAX_RUNS = 80  # a generous bound: every forked run is killed unless the add could finish, which WORK_AHEAD prevents
WORK_AHEAD = 12  # documents left to add before each forked run (~6 rounds of SMALL_BATCH passages)
POLL_S = 0.01  # how often the test looks at a child's encode log and document count
SMALL_BATCH = 6  # passages per embed + write round in the forked children (the CLI default is 256)
STATEMENT_DELAY_S = 0.03  # before each statement of a write transaction in the children (see docstring)

ZYGOTE = r"""
import json, os, signal, sys, time
import retrieval.cli as cli
import retrieval.corpus.core as corpus_mod
import retrieval.storage.sqlite as store_mod
from retrieval.types import text_hash
from tests.fakes.hash_embedder import HashEmbedder

corpus_mod.EMBED_BATCH = int(sys.argv[1])
DELAY = float(sys.argv[2])

def _delay():  # a run that is not to be killed (the final rerun) writes at full speed
    return float(os.environ.get("CRASH_STATEMENT_DELAY", DELAY))

class Delayed:  # statements in a transaction a little late, so writes become wide targets for a kill
    def __init__(self, conn):
        self._conn = conn

    def execute(self, *args):
        if self._conn.in_transaction:  # only inside write transactions: reads stay fast
            time.sleep(_delay())
        return self._conn.execute(*args)

    def executemany(self, *args):
        if self._conn.in_transaction:
            time.sleep(_delay())
        return self._conn.executemany(*args)

    def __getattr__(self, name):
        return getattr(self._conn, name)

_store_init = store_mod.SQLiteDatabase.__init__

def store_init(self, home, *args, **kwargs):
    _store_init(self, home, *args, **kwargs)
    self.conn = Delayed(self.conn)

store_mod.SQLiteDatabase.__init__ = store_init

class LoggingEmbedder(HashEmbedder):  # the console script's model name and size, hashed vectors, a log
    def encode_passages(self, texts):
        vectors = super().encode_passages(texts)
        with open(os.environ["CRASH_ENCODE_LOG"], "a") as fh:
            fh.write("".join(text_hash(t) + "\n" for t in texts))
        return vectors

corpus_mod.make_embedder = lambda settings: LoggingEmbedder(sys.argv[3], int(sys.argv[4]))
print("ready", flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd["op"] == "run":
        pid = os.fork()
        if pid == 0:
            # Ctrl-C as in a terminal, even when the test run itself was started in the background
            # (a non-interactive shell starts background jobs with SIGINT ignored, and children inherit it)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            fd = os.open(cmd["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.environ.update(cmd["env"])
            try:
                rc = cli.main(cmd["argv"])
            except BaseException:
                import traceback
                traceback.print_exc()
                rc = 99
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(rc)
        print(json.dumps({"pid": pid}), flush=True)
    elif cmd["op"] == "wait":
        _, status = os.waitpid(cmd["pid"], 0)
        print(json.dumps({"killed": os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9,
                          "rc": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None}), flush=True)
"""


class Zygote:
    """A process with the heavy imports done, forking one child per command."""

    def __init__(self, home: Path, log: Path) -> None:
        self.home, self.log = home, log
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE, str(SMALL_BATCH), str(STATEMENT_DELAY_S), MODEL, str(MODEL_DIM)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True, env=cli_env(home, CRASH_ENCODE_LOG=str(log), CITEBOT_EMBEDDER="sentence-transformers"), cwd=ROOT,
        )
        self.ready = False  # its imports run while the test does other things

    def _call(self, **cmd) -> dict:
        if not self.ready:
            assert self.proc.stdout.readline().strip() == "ready"
            self.ready = True
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def start(self, argv: list[str], out: Path, **extra: str) -> int:
        env = {"CITEBOT_HOME": str(self.home), "CRASH_ENCODE_LOG": str(self.log), **extra}
        return self._call(op="run", argv=argv, out=str(out), env=env)["pid"]

    def wait(self, pid: int) -> dict:
        return self._call(op="wait", pid=pid)

    def run(self, argv: list[str], out: Path, **extra: str) -> tuple[int | None, str]:
        result = self.wait(self.start(argv, out, **extra))
        return result["rc"], out.read_text()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def encoded(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def running(pid: int) -> bool:
    """Whether the zygote's child ``pid`` still runs (an exited child stays a zombie until the zygote
    reaps it, so ``os.kill(pid, 0)`` cannot tell)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


class ChildWatch:
    """What a forked ``add`` child has done so far, seen from outside: the moments its encode log grew
    (a batch embedded: the log is appended right after each encode call, before the batch is written)
    and the moments the store's document count grew (a batch's documents committed)."""

    def __init__(self, pid: int, log: Path, home: Path) -> None:
        self.pid, self.log, self.store = pid, log, home / "citebot.sqlite3"
        self.encoded: list[float] = []
        self.written: list[float] = []
        self._size = 0
        self._docs: int | None = None

    def _documents(self) -> int:
        if not self.store.exists():
            return 0
        db = sqlite3.connect(self.store, timeout=30)
        try:
            return int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
        except sqlite3.OperationalError:  # no such table: the child is still creating the schema
            return 0
        finally:
            db.close()

    def wait(self, done: Callable[[], bool], until: float = math.inf) -> None:
        """Poll until ``done()``, the monotonic time ``until``, or the end of the child."""
        while running(self.pid):
            size = self.log.stat().st_size if self.log.exists() else 0
            if size > self._size:
                self._size = size
                self.encoded.append(time.monotonic())
            docs = self._documents()
            if self._docs is not None and docs > self._docs:
                self.written.append(time.monotonic())
            self._docs = docs
            if done() or time.monotonic() >= until:
                return
            time.sleep(POLL_S)


def test_sigkill_loop_leaves_every_document_whole_or_absent(tmp_path):
    docs_dir = tmp_path / "docs"
    paths = write_docs(docs_dir, 40, seed=4, sentences=11)
    wanted = [expected(p) for p in paths]
    assert all(len(w.passages) >= 2 for w in wanted)
    home = tmp_path / "index"
    log = tmp_path / "encoded.log"
    rng = random.Random(20261128)
    kills, runs = 0, 0

    def after_kill() -> None:
        # `citebot verify` (the console script's code) must pass; it re-syncs the derived dense index
        rc, out = zygote.run(["verify"], tmp_path / "verify.out")
        assert rc == 0 and "ok:" in out and "NOT OK" not in out, out
        check_whole_or_absent(home, wanted, dense_ids(home))

    zygote = Zygote(home, log)
    try:
        # 1. the real console script, killed during its start-up (store creation, migration, model load)
        for delay in sorted(rng.uniform(0.05, 5.0) for _ in range(CONSOLE_KILLS)):
            proc = subprocess.Popen([*citebot_argv(real=True), "add", str(docs_dir)],
                                    env=cli_env(home, CITEBOT_EMBEDDER="sentence-transformers"),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
            runs += 1
            if proc.returncode == -signal.SIGKILL:
                kills += 1
            assert b"Traceback" not in err
            if (home / "citebot.sqlite3").exists():
                after_kill()

        # 2. forked children killed at random moments of their start-up and of their writing, until both
        #    kinds have happened often enough (see the module docstring)
        first_encode: float | None = None  # seconds from a fork to the child's first embedded batch, last measured
        load_kills = writing_kills = added_by_kills = 0
        while (kills < KILLS_WANTED or load_kills < LOAD_KILLS_WANTED or writing_kills < WRITING_KILLS_WANTED) \
                and runs < MAX_RUNS:
            state = read_store(home) if (home / "citebot.sqlite3").exists() else None
            before = state["embedded"] if state else set()
            count = len(state["docs"]) if state else 0
            if len(wanted) - count < WORK_AHEAD:  # fresh work, so no child can finish the add before its kill
                extra = write_docs(docs_dir, WORK_AHEAD, seed=100 + len(wanted), prefix=f"more{len(wanted)}_",
                                   sentences=11)
                wanted.extend(expected(p) for p in extra)
            # writing kills (the slow ones) until there are enough, mixed with start-up kills; the first
            # run is a writing one, as it also measures how long a start-up takes on this machine now
            need_writing = writing_kills < WRITING_KILLS_WANTED
            aim_writing = first_encode is None or (need_writing and (load_kills >= LOAD_KILLS_WANTED
                                                                     or rng.random() < 0.5))
            log.unlink(missing_ok=True)
            out = tmp_path / f"run{runs}.out"
            pid = zygote.start(["add", str(docs_dir)], out)
            started = time.monotonic()
            watch = ChildWatch(pid, log, home)
            if aim_writing:
                # time the writes of one batch (from its embedding to the last commit of its documents
                # before the next batch is embedded) under the current load, then kill at a random
                # moment of the next batch's writes
                watch.wait(lambda: len(watch.encoded) >= 2)
                if watch.encoded:
                    first_encode = watch.encoded[0] - started
                if len(watch.encoded) >= 2:
                    first, second = watch.encoded[:2]
                    writes_s = max([t - first for t in watch.written if first < t < second], default=0.0)
                    watch.wait(lambda: False, until=second + rng.uniform(0.0, writes_s))
            else:  # a random moment before the first embedded batch, at the latest when it appears
                watch.wait(lambda: bool(watch.encoded), until=started + rng.uniform(0.0, first_encode))
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # pragma: no cover - already reaped cannot happen before wait
                pass
            result = zygote.wait(pid)
            runs += 1
            text = out.read_text()
            assert "Traceback" not in text, text
            if result["killed"]:
                kills += 1
                grown = len(read_store(home)["docs"]) - count
                added_by_kills += max(grown, 0)
                if encoded(log) or grown > 0:
                    writing_kills += 1
                else:
                    load_kills += 1
            else:
                assert result["rc"] == 0, text
            # a run never re-embeds what an earlier (killed) run had already stored
            assert not set(encoded(log)) & before
            after_kill()

        summary = f"{kills} kills in {runs} runs: {load_kills} in start-up, {writing_kills} in writing"
        print(summary)  # shown by `pytest -s`, and on a failure
        assert kills >= KILLS_WANTED, summary
        assert load_kills >= LOAD_KILLS_WANTED and writing_kills >= WRITING_KILLS_WANTED, summary
        progress = len(read_store(home)["docs"])
        # the kills landed in the writing phase too: some documents were added by killed runs, not all
        assert added_by_kills > 0, summary
        assert 0 < progress < len(wanted), progress

        # Ctrl-C (SIGINT) at random moments: the same guarantees, and one line instead of a traceback.
        # Fresh documents first, so each interrupted run has real work (model load, embedding, delayed
        # writes): the kill loop may have left only one or two documents to add.
        extra = write_docs(docs_dir, 12, seed=5, prefix="late", sentences=11)
        wanted.extend(expected(p) for p in extra)
        interrupted = 0
        for i in range(SIGINTS):
            out = tmp_path / f"sigint{i}.out"
            pid = zygote.start(["add", "-q", str(docs_dir)], out)
            time.sleep(rng.uniform(0.0, 1.5))
            os.kill(pid, signal.SIGINT)
            result = zygote.wait(pid)
            text = out.read_text()
            assert result["rc"] in (0, 130), text
            assert "Traceback" not in text, text
            if result["rc"] == 130:
                interrupted += 1
                assert text.strip().splitlines()[-1] == "citebot: interrupted", text
            after_kill()
        assert interrupted, "no run was interrupted"

        # 3. a rerun of the same add finishes the job, embedding only what was never stored
        before = read_store(home)["embedded"]
        log.unlink(missing_ok=True)
        # (without the statement delay that makes the killed runs' writes wide targets: nothing kills it)
        rc, text = zygote.run(["add", str(docs_dir)], tmp_path / "final.out", CRASH_STATEMENT_DELAY="0")
        assert rc == 0, text
        assert f"corpus has {len(wanted)} documents" in text
        fresh = encoded(log)
        assert fresh, "the rerun had work left to do"
        assert not set(fresh) & before, "the rerun embedded texts that were already stored"
        assert len(fresh) == len(set(fresh)), "the rerun embedded a text twice"
        after = read_store(home)["embedded"]
        assert set(fresh) == after - before
    finally:
        zygote.close()

    verify = citebot(home, "verify", real=True, CITEBOT_EMBEDDER="sentence-transformers")  # the console script
    assert verify.returncode == 0 and verify.stdout.startswith("ok:"), verify.stdout + verify.stderr
    assert check_whole_or_absent(home, wanted, dense_ids(home)) == len(wanted)
    assert read_store(home)["embedded"] >= {h for w in wanted for h in w.embed_hashes}


def test_temp_files_of_a_save_killed_midway_are_removed(tmp_path, make_corpus):
    """A kill between writing the dense temp file and renaming it leaves ``.dense.faiss.<pid>.tmp``
    (as large as the index); the next save removes it, but never a live process's temp file."""
    home = tmp_path / "index"
    corpus = make_corpus(home)
    paths = write_docs(tmp_path / "docs", 2, seed=51)
    assert corpus.add_paths(paths[:1])[0].status == "added"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    dead_pid = int(dead.stdout)
    leftovers = [home / f".dense.faiss.{dead_pid}.tmp", home / f".dense.json.{dead_pid}.tmp"]
    for path in leftovers:
        path.write_bytes(b"\0" * 100_000)
    live = home / f".dense.faiss.{os.getppid()}.tmp"  # a process that is still saving
    live.write_bytes(b"\0" * 10)
    assert corpus.add_paths(paths[1:])[0].status == "added"  # saves the dense index
    assert not any(p.exists() for p in leftovers)
    assert live.exists()
    assert check_whole_or_absent(home, [expected(p) for p in paths], dense_ids(home)) == 2
