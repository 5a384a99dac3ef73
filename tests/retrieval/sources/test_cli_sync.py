"""`citebot sources` and `citebot sync` as users run them (subprocesses, hash embedder, the local news
site): a looping sync makes a newly published entry citable, edits replace, `sources list --json` shows
the state; a sync killed with SIGKILL leaves `citebot verify` passing and loses or doubles nothing; two
sync processes on one PostgreSQL index each entry once; on SQLite a second process skips."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from retrieval import Corpus, load_settings
from tests.conftest import ROOT
from tests.fakes.hash_embedder import HashEmbedder

INTERVAL = 2  # seconds: `--every 2s` stands in for the 1m (the wait allowed is interval + 60 s)


def env_for(home: Path, url: str = "", **extra: str) -> dict[str, str]:
    """The environment of a CLI child: hash embedder (tests.fakes.hash_cli), 127.0.0.1 allowed, no delay."""
    env = dict(os.environ, CITEBOT_HOME=str(home), CITEBOT_ALLOW_PRIVATE_URLS="true", CITEBOT_SYNC_HOST_DELAY="0",
               PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", OMP_WAIT_POLICY="PASSIVE", CITEBOT_DATABASE_URL=url)
    env.update(extra)
    return env


def argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.fakes.hash_cli", *args]


def citebot(home: Path, *args: str, url: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv(*args), env=env_for(home, url), capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout)


def urls(home: Path, url: str = "") -> list[str]:
    done = citebot(home, "list", "--json", url=url)
    assert done.returncode == 0, done.stderr
    return [d["url"] for d in json.loads(done.stdout)]


def cited(home: Path, question: str) -> list[str]:
    done = citebot(home, "ask", "--json", question)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    return [c["url"] for c in answer["citations"]] if answer["answered"] else []


def inspect(home: Path) -> tuple[bool, list[str]]:
    """`verify` and the documents' URLs, in process (cheaper than two CLI children after every kill; the
    last check of the killed-sync test still runs `citebot verify` and `citebot list` as subprocesses)."""
    with Corpus(load_settings(env={"CITEBOT_HOME": str(home)}), embedder=HashEmbedder()) as corpus:
        return corpus.verify().ok, [d.url for d in corpus.documents()]


def wait_for(check, limit: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    return check()


def test_a_looping_sync_makes_new_entries_citable_and_edits_replace(tmp_path, feeds, stories):
    home = tmp_path / "home"
    feeds.site.publish(*stories[:3])
    added = citebot(home, "sources", "add", feeds.url + "/feed.xml", "--every", f"{INTERVAL}s", "--name", "Wire")
    assert added.returncode == 0 and "following source 1" in added.stdout
    loop = subprocess.Popen(argv("sync"), env=env_for(home), cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: len(urls(home)) == 3, INTERVAL + 60)
        story = stories[3]
        feeds.site.publish(story)
        link = f"{feeds.url}/articles/{story.slug}.html"
        question = " ".join(story.body.split("\n\n")[0].split()[:12])
        assert wait_for(lambda: link in cited(home, question), INTERVAL + 60), "the new entry was never cited"
        edited = stories[1]
        marker = "Correction: the quarterly tonnage figures were revised by the harbour authority."
        feeds.site.edit(edited.slug, edited.body + "\n\n" + marker)
        edited_link = f"{feeds.url}/articles/{edited.slug}.html"
        assert wait_for(lambda: edited_link in cited(home, "quarterly tonnage figures revised by the harbour authority"),
                        INTERVAL + 60)
        assert Counter(urls(home))[edited_link] == 1 and len(urls(home)) == 4  # replaced, not added
        listing = citebot(home, "sources", "list", "--json")
        [source] = json.loads(listing.stdout)
        assert source["name"] == "Wire" and source["every"] == INTERVAL and source["kind"] == "feed"
        state = source["state"]
        assert state["last_success"] and state["etag"] and state["failures"] == 0 and state["entries"] == 4
        text = citebot(home, "sources", "list")
        assert text.stdout.count("\n") == 1 and "[ok]" in text.stdout
    finally:
        loop.send_signal(signal.SIGTERM)
        out, err = loop.communicate(timeout=60)
    assert loop.returncode == 0, err


def test_sources_list_shows_each_sources_last_error_in_one_line(tmp_path, feeds, stories):
    home = tmp_path / "home"
    feeds.site.publish(stories[0])
    feeds.site.override("/gone.xml", status=410, body=b"gone")
    citebot(home, "sources", "add", feeds.url + "/gone.xml")
    citebot(home, "sources", "add", feeds.url + "/atom.xml")
    done = citebot(home, "sync", "--once")
    assert done.returncode == 1 and "HTTP error 410" in done.stderr
    lines = citebot(home, "sources", "list").stdout.splitlines()
    assert len(lines) == 2 and "error x1: " in lines[0] and "HTTP error 410" in lines[0] and "[ok]" in lines[1]
    assert citebot(home, "sources", "remove", "1").returncode == 0
    bad = citebot(home, "sources", "remove", "1")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "no source '1'" in bad.stderr


def test_a_sync_killed_mid_way_loses_and_doubles_nothing(tmp_path, feeds, stories):
    """Kill -9 three times during a sync of 30 entries, each time run `citebot verify`, then sync again:
    every entry is indexed exactly once. Pages take 50 ms and each embedding call 0.5 s, and pages are
    indexed 16 at a time (retrieval.sources.sync.CHUNK), so the kills can be aimed: while the first 16
    pages are being embedded (fetched, nothing written), while the next pages are fetched (16 written),
    and at a random early moment of the last run."""
    home = tmp_path / "home"
    feeds.site.feed_count = 30
    feeds.site.article_delay = 0.05
    feeds.site.publish(*stories[:30])
    citebot(home, "sources", "add", feeds.url + "/feed.xml")
    rng = random.Random(18)
    counts = []
    for requests, pause in ((17, 0.2), (17 + 4, 0.0), (2 + rng.randint(0, 6), rng.uniform(0, 0.3))):
        child = subprocess.Popen(argv("sync", "--once", "--source", "1"), cwd=ROOT,
                                 env=env_for(home, CITEBOT_TEST_ENCODE_DELAY="0.5"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = len(feeds.site.requests)
        wait_for(lambda: len(feeds.site.requests) >= before + requests, 60)
        time.sleep(pause)
        child.send_signal(signal.SIGKILL)
        child.wait()
        ok, present = inspect(home)
        assert ok
        assert len(present) == len(set(present))
        counts.append(len(present))
    final = citebot(home, "sync", "--once", "--source", "1", timeout=300)
    assert final.returncode == 0, final.stderr
    present = urls(home)
    assert sorted(present) == sorted(f"{feeds.url}/articles/{s.slug}.html" for s in stories[:30])
    assert citebot(home, "verify").returncode == 0
    assert counts[0] == 0 and 16 <= counts[1] < 30  # the kills landed where they were aimed


def _two_syncs(home: Path, url: str, site, first: tuple[str, ...] = ()) -> list[subprocess.CompletedProcess]:  # type: ignore[no-untyped-def]
    """Two `citebot sync --once` processes on one index (the first with the extra arguments ``first``);
    the second starts once the first is fetching pages, so they overlap however slowly processes start
    on a loaded machine."""
    procs = []
    for extra in (first, ()):
        before = len(site.requests)
        procs.append(subprocess.Popen(argv("sync", "--once", "--json", *extra), env=env_for(home, url), cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        wait_for(lambda: len(site.requests) >= before + 3, 60)
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _statuses(done: list[subprocess.CompletedProcess]) -> dict[int, list[str]]:
    by_source: dict[int, list[str]] = {}
    for result in done:
        for line in result.stdout.splitlines():
            for r in json.loads(line)["results"]:
                by_source.setdefault(r["source_id"], []).append(r["status"])
    return by_source


def test_two_sync_processes_on_one_postgresql_index_each_entry_once(tmp_path, feeds, stories, pg_url):
    """Four sources list the same 12 articles. The first process syncs sources 1 and 2, the second
    every due source: it must skip the two the first holds and index the same articles through sources
    3 and 4 at the same time as the first: each article ends up indexed once."""
    home = tmp_path / "home"
    feeds.site.feed_count = 12
    feeds.site.article_delay = 0.2  # 2 x 13 requests to one host, one at a time: about 5 s for the first process
    feeds.site.publish(*stories[:12])
    for path in ("/feed.xml", "/atom.xml", "/feed.json", "/news-sitemap.xml"):  # the same 12 articles, 4 ways
        assert citebot(home, "sources", "add", feeds.url + path, url=pg_url).returncode == 0
    done = _two_syncs(home, pg_url, feeds.site, first=("--source", "1", "--source", "2"))
    assert all(d.returncode == 0 for d in done), [d.stderr for d in done]
    statuses = _statuses(done)
    for source_id, seen in statuses.items():  # each source synced by exactly one process
        assert seen.count("ok") == 1, (source_id, seen)
    assert "skipped" in statuses[1] + statuses[2]  # the second process met the first one's claims
    second = [json.loads(line) for line in done[1].stdout.splitlines()][0]["results"]
    assert {r["source_id"] for r in second if r["status"] == "ok"} == {3, 4}
    present = urls(home, pg_url)
    assert sorted(present) == sorted(f"{feeds.url}/articles/{s.slug}.html" for s in stories[:12])
    assert citebot(home, "verify", url=pg_url).returncode == 0


def test_on_sqlite_a_second_sync_process_skips_what_the_first_holds(tmp_path, feeds, stories):
    home = tmp_path / "home"
    feeds.site.feed_count = 10
    feeds.site.article_delay = 0.3  # 11 requests: about 3 s while the second process starts
    feeds.site.publish(*stories[:10])
    citebot(home, "sources", "add", feeds.url + "/feed.xml")
    done = _two_syncs(home, "", feeds.site)
    statuses = _statuses(done)[1]
    assert sorted(statuses) in (["ok", "skipped"], ["not-due", "ok"])
    assert len(urls(home)) == 10
    for story in stories[:10]:
        assert len(feeds.site.hits(f"/articles/{story.slug}.html")) == 1
