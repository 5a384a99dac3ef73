"""The sources store on both engines: add, list, get, remove, channels, state, seen entries, claims."""
from __future__ import annotations

import pytest

from retrieval import load_settings
from retrieval.errors import UserError
from retrieval.sources import SeenEntry, open_sources


@pytest.fixture
def store(tmp_path, engine_url):
    settings = load_settings(env={}).replace(home=str(tmp_path / "index"), database_url=engine_url)
    opened = [open_sources(settings)]
    yield opened[0], lambda: opened.append(open_sources(settings)) or opened[-1]
    for s in opened:
        s.close()


def test_sources_are_data_that_survive_reopening(store, tmp_path):
    sources, reopen = store
    folder = tmp_path / "inbox"
    folder.mkdir()
    feed = sources.add("https://news.example/rss.xml", every="15m", name="Wire")
    site = sources.add("https://news.example/news-sitemap.xml")
    local = sources.add(str(folder), prune=True)
    channel = sources.add("@Reuters_World")
    assert (feed.kind, feed.every, feed.name) == ("feed", 900, "Wire")
    assert (site.kind, site.every) == ("sitemap", 1800)
    assert (local.kind, local.prune, local.location) == ("folder", True, str(folder.resolve()))
    assert (channel.kind, channel.location) == ("telegram", "@reuters_world")
    again = reopen()
    assert [s.id for s in again.list()] == [feed.id, site.id, local.id, channel.id]
    assert again.find_channel("reuters_world").id == channel.id
    assert again.find_channel("https://t.me/Reuters_World").id == channel.id
    assert again.find_channel("@nobody") is None
    assert again.get(feed.id).name == "Wire" and again.get(9999) is None


def test_numeric_channel_ids_are_found_by_number(store):
    sources, _ = store
    channel = sources.add("-1001234567890")
    assert channel.kind == "telegram"
    assert sources.find_channel(-1001234567890).id == channel.id


@pytest.mark.parametrize("location,every,message", [
    ("ftp://x.example/feed", None, "not an http"),
    ("/no/such/dir/anywhere", None, "not an http"),
    ("https://x.example/feed", "soon", "interval like"),
    ("https://x.example/feed", "0s", "between"),
    ("", None, "give a feed"),
])
def test_bad_sources_are_one_line_errors(store, location, every, message):
    sources, _ = store
    with pytest.raises(UserError, match=message):
        sources.add(location, every=every)
    assert sources.list() == []


def test_following_twice_and_removing_unknown_ids_are_clear_errors(store):
    sources, _ = store
    first = sources.add("https://x.example/feed")
    with pytest.raises(UserError, match=f"followed already \\(source {first.id}\\)"):
        sources.add("https://x.example/feed")
    with pytest.raises(UserError, match="no source '42'"):
        sources.remove(42)
    assert sources.remove(first.id).id == first.id and sources.list() == []


def test_state_and_seen_entries_are_kept(store):
    sources, reopen = store
    source = sources.add("https://x.example/feed")
    sources.mark_seen(source.id, [SeenEntry("https://x.example/1", "sig1", "h1", 7),
                                  SeenEntry("https://x.example/2", "sig2", "", None, "feed")])
    sources.mark_seen(source.id, [SeenEntry("https://x.example/1", "sig1b", "h1b", 8)])
    state = source.state
    state.etag, state.last_modified, state.failures, state.last_error = '"abc"', "Sat, 05 Dec 2026 06:00:00 GMT", 2, "boom"
    state.next_due, state.last_success = 123.0, 100.0
    sources.save_state(source.id, state)
    again = reopen()
    got = again.get(source.id)
    assert (got.state.etag, got.state.failures, got.state.last_error, got.state.next_due) == ('"abc"', 2, "boom", 123.0)
    assert got.state.entries == 2
    seen = again.seen(source.id)
    assert seen["https://x.example/1"] == SeenEntry("https://x.example/1", "sig1b", "h1b", 8, "article")
    assert seen["https://x.example/2"].origin == "feed"
    assert list(again.seen(source.id, ["https://x.example/2"])) == ["https://x.example/2"]
    again.forget(source.id, ["https://x.example/2"])
    assert list(again.seen(source.id)) == ["https://x.example/1"]
    assert [s.id for s in again.due(124.0)] == [source.id] and again.due(122.0) == []


def test_only_one_store_claims_a_source_at_a_time(store):
    sources, reopen = store
    source = sources.add("https://x.example/feed")
    other = reopen()  # another process's view: its own connection (and, on SQLite, its own lock file handle)
    with sources.claimed(source.id) as mine:
        assert mine
        with other.claimed(source.id) as theirs:
            assert not theirs
    with other.claimed(source.id) as theirs:
        assert theirs


def test_a_closed_store_releases_its_claims(store):
    sources, reopen = store
    source = sources.add("https://x.example/feed")
    assert sources.claim(source.id)
    sources.close()  # what a killed process's connection / file descriptors do
    assert reopen().claim(source.id)
