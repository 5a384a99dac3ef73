"""Crash safety: `citebot add DIR` killed with SIGKILL at random moments, at least 20 times in a row.

After every kill the store must open, `citebot verify` must pass, and every document must be wholly
present (its row, every passage, a lexical entry and an embedding per passage, a dense entry after the
derived index is re-synced) or wholly absent. A final rerun of the same add must finish the job and
embed nothing that an earlier, killed run had already stored.

Loading torch and the model takes ~5 s per process on this machine, so a loop of fresh processes would
spend nearly all its kills in the import. The loop therefore has two kinds of victims:

* the installed ``citebot`` console script, killed at a random moment of its start-up (store creation,
  schema migration, document loading, model loading) -- a few runs, as a user would start it;
* children forked from a "zygote" process that has already *imported* torch and sentence-transformers
  (no model loaded, no thread started, no database opened) and then run exactly the console script's
  code, ``retrieval.cli.main(["add", DIR])``. Each child still loads the model itself, so random kill
  moments fall both in the model load and in the writing phase. The children use a small embedding
  batch (``EMBED_BATCH``) so one add is many separate transactions: more moments where a kill lands
  between two of them. Each child logs the hashes of the texts it sent to the model, which is how the
  test proves that nothing already stored is ever embedded again. Every SQL statement inside a write
  transaction in a child is delayed by 30 ms: a transaction otherwise lasts a few milliseconds against
  ~0.4 s of embedding per batch, and random kills almost never land inside one (checked by mutation:
  with the document row committed apart from its passages, 20 kills passed at no delay and were caught
  1 time in 2 at 10 ms, 3 times in 3 at 30 ms). ``citebot verify`` after each kill
  runs the same way (a forked ``main(["verify"])``); the final check runs the console script.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path


from ..conftest import ROOT
from .conftest import check_whole_or_absent, citebot, citebot_argv, cli_env, dense_ids, expected, read_store, write_docs

KILLS_WANTED = 20
SMALL_BATCH = 6  # passages per embed + write round in the forked children (the CLI default is 256)
STATEMENT_DELAY_S = 0.03  # before each statement of a write transaction in the children (see docstring)

ZYGOTE = r"""
import json, os, signal, sys, time
import torch, sentence_transformers  # the slow imports, once; no model is loaded before a fork
import retrieval.cli as cli
import retrieval.corpus.core as corpus_mod
import retrieval.embed as embedder_mod
import retrieval.storage.sqlite as store_mod
from retrieval.types import text_hash

corpus_mod.EMBED_BATCH = int(sys.argv[1])
DELAY = float(sys.argv[2])

class Delayed:  # statements in a transaction a little late, so writes become wide targets for a kill
    def __init__(self, conn):
        self._conn = conn

    def execute(self, *args):
        if self._conn.in_transaction:  # only inside write transactions: reads stay fast
            time.sleep(DELAY)
        return self._conn.execute(*args)

    def executemany(self, *args):
        if self._conn.in_transaction:
            time.sleep(DELAY)
        return self._conn.executemany(*args)

    def __getattr__(self, name):
        return getattr(self._conn, name)

_store_init = store_mod.SQLiteStorage.__init__

def store_init(self, home, *args, **kwargs):
    _store_init(self, home, *args, **kwargs)
    self.db = Delayed(self.db)

store_mod.SQLiteStorage.__init__ = store_init
_encode = embedder_mod.SentenceTransformerEmbedder.encode_passages

def encode_passages(self, texts):
    vectors = _encode(self, texts)
    with open(os.environ["CRASH_ENCODE_LOG"], "a") as fh:
        fh.write("".join(text_hash(t) + "\n" for t in texts))
    return vectors

embedder_mod.SentenceTransformerEmbedder.encode_passages = encode_passages
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
            [sys.executable, "-c", ZYGOTE, str(SMALL_BATCH), str(STATEMENT_DELAY_S)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
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

    def start(self, argv: list[str], out: Path) -> int:
        env = {"CITEBOT_HOME": str(self.home), "CRASH_ENCODE_LOG": str(self.log)}
        return self._call(op="run", argv=argv, out=str(out), env=env)["pid"]

    def wait(self, pid: int) -> dict:
        return self._call(op="wait", pid=pid)

    def run(self, argv: list[str], out: Path) -> tuple[int | None, str]:
        result = self.wait(self.start(argv, out))
        return result["rc"], out.read_text()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def encoded(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_sigkill_loop_leaves_every_document_whole_or_absent(tmp_path):
    docs_dir = tmp_path / "docs"
    paths = write_docs(docs_dir, 40, seed=4, sentences=11)
    wanted = [expected(p) for p in paths]
    assert all(len(w.passages) >= 2 for w in wanted)
    home = tmp_path / "index"
    log = tmp_path / "encoded.log"
    rng = random.Random(20261128)
    kills, runs, stretch = 0, 0, 1.0

    def after_kill() -> None:
        # `citebot verify` (the console script's code) must pass; it re-syncs the derived dense index
        rc, out = zygote.run(["verify"], tmp_path / "verify.out")
        assert rc == 0 and "ok:" in out and "NOT OK" not in out, out
        check_whole_or_absent(home, wanted, dense_ids(home))

    zygote = Zygote(home, log)
    try:
        # 1. the real console script, killed during its start-up (store creation, migration, model load)
        for delay in sorted(rng.uniform(0.05, 5.0) for _ in range(4)):
            proc = subprocess.Popen([*citebot_argv(), "add", str(docs_dir)],
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

        # 2. forked children killed at random moments of their model load and writing
        while kills < KILLS_WANTED and runs < 45:
            before = read_store(home)["embedded"] if (home / "citebot.sqlite3").exists() else set()
            log.unlink(missing_ok=True)
            out = tmp_path / f"run{runs}.out"
            pid = zygote.start(["add", str(docs_dir)], out)
            # early on mostly past the model load, into the writing; the window shrinks as the corpus
            # fills, so later kills land in the load and the loop never runs out of work to interrupt
            count = len(read_store(home)["docs"]) if (home / "citebot.sqlite3").exists() else 0
            done = count / len(wanted)
            time.sleep(rng.uniform(0.0, max(0.5, 3.0 * stretch * (1 - done))))
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
                if len(read_store(home)["docs"]) > count:
                    stretch = max(1.0, stretch / 1.25)
                elif done < 0.5:
                    stretch = min(2.5, stretch * 1.25)  # a slow machine: reach further past the model load
            else:
                assert result["rc"] == 0, text
            # a run never re-embeds what an earlier (killed) run had already stored
            assert not set(encoded(log)) & before
            after_kill()

        assert kills >= KILLS_WANTED, f"only {kills} of {runs} runs were killed"
        progress = len(read_store(home)["docs"])
        # the kills landed in the writing phase too: some documents were added by killed runs, not all
        assert 0 < progress < len(wanted), progress

        # Ctrl-C (SIGINT) at random moments: the same guarantees, and one line instead of a traceback.
        # Fresh documents first, so each interrupted run has real work (model load, embedding, delayed
        # writes): the kill loop may have left only one or two documents to add.
        extra = write_docs(docs_dir, 12, seed=5, prefix="late", sentences=11)
        wanted.extend(expected(p) for p in extra)
        interrupted = 0
        for i in range(4):
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
        rc, text = zygote.run(["add", str(docs_dir)], tmp_path / "final.out")
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

    verify = citebot(home, "verify", CITEBOT_EMBEDDER="sentence-transformers")  # the console script, as a user would
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
