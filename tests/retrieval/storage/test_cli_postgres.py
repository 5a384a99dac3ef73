"""The acceptance path as a user types it, with CITEBOT_DATABASE_URL pointing at a real PostgreSQL server:
`citebot add corpus/`, `citebot ask --json`, `citebot verify`, `citebot migrate` there and back; killed and
concurrent `citebot add` runs (slow: each process loads the model). The fast path runs the commands in the test
process with the hash embedder (tests/runcli.py)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runcli import Run, run

ROOT = Path(__file__).resolve().parents[3]
TALKS = "Moscow was stopping peace treaty talks with Tokyo"


def citebot(*args: str, env: dict[str, str], check: bool = True) -> Run:
    """``citebot ARGS`` in this process with the hash embedder (tests/runcli.py); the slow test below
    starts real processes."""
    done = run(None, *args, env=env)
    if check:
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done


def test_add_ask_verify_and_migrate_on_postgresql(tmp_path, pg_url):
    env = {"CITEBOT_HOME": str(tmp_path / "home"), "CITEBOT_DATABASE_URL": pg_url}
    added = citebot("add", "corpus/", env=env)
    assert "added" in added.stdout + added.stderr
    answer = json.loads(citebot("ask", "why did talks stop?", "--json", env=env).stdout)
    assert answer["answered"] and "March 2022" in answer["answer"]
    assert TALKS in answer["citations"][0]["passage"]
    stats = json.loads(citebot("stats", "--json", env=env).stdout)
    assert stats["store"].startswith("postgresql://") and stats["documents"] == 1
    assert "ok:" in citebot("verify", env=env).stdout
    assert not (tmp_path / "home" / "citebot.sqlite3").exists()  # everything went to the server

    back = tmp_path / "back"
    moved = citebot("migrate", "--to", f"sqlite://{back}", env=env)
    assert "copied 1 documents" in moved.stdout
    again = citebot("migrate", "--to", str(back), env=env)  # a rerun copies nothing twice
    assert "copied 0 documents" in again.stdout and "1 documents were already there" in again.stdout
    local = {"CITEBOT_HOME": str(back), "CITEBOT_DATABASE_URL": ""}
    assert json.loads(citebot("ask", "why did talks stop?", "--json", env=local).stdout)["answer"] == answer["answer"]
    bad = citebot("migrate", "--to", "mysql://somewhere/db", env=env, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1


def _corpus_dir(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(n):
        (folder / f"story-{i:03d}.txt").write_text(
            f"Title: Harbour report {i}\nDate: 2024-02-{1 + i % 28:02d}\n\n"
            f"The harbour of town {i} froze early this year. Fishermen in town {i} said the ice came in October. "
            f"The port authority of town {i} expects the shipping lanes to reopen in April.\n")
    return folder


@pytest.mark.slow
def test_killed_and_concurrent_adds_on_postgresql(tmp_path, pg_url):
    env = {"CITEBOT_HOME": str(tmp_path / "home"), "CITEBOT_DATABASE_URL": pg_url}
    folder = _corpus_dir(tmp_path, 60)
    for round_ in range(2):  # SIGKILL `citebot add` mid-run, twice
        proc = subprocess.Popen([sys.executable, "-m", "retrieval.cli", "add", str(folder)], cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT), **env}, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        seen = 0
        deadline = time.monotonic() + 300
        while seen < 5 + round_ * 10 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line.startswith(("added", "replaced"))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        verified = citebot("verify", env=env)
        assert "ok:" in verified.stdout
    # two `citebot add` at once over the rest and a second folder: both finish, nothing twice
    other = tmp_path / "other"
    shutil.copytree(folder, other)
    procs = [subprocess.Popen([sys.executable, "-m", "retrieval.cli", "add", "-q", str(p)], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT), **env}, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for p in (folder, other)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
    stats = json.loads(citebot("stats", "--json", env=env).stdout)
    assert stats["documents"] == 60  # the copies are duplicates of the same texts
    assert "ok:" in citebot("verify", env=env).stdout
