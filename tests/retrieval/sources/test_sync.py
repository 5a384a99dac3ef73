"""Syncing sources into a corpus (in process, hash embedder, the local news site on 127.0.0.1): the
article behind each entry is indexed, new entries only are fetched, edits replace, and every hostile
server or feed is one line in that source's state while the other sources go on."""
from __future__ import annotations

import time

import pytest

from retrieval.ingest import IngestOptions
from retrieval.sources import SyncOptions, sync_sources
from retrieval.sources.http import Fetcher, HostGate


def docs(corpus):
    return corpus.documents()


@pytest.mark.parametrize("path", ["/feed.xml", "/atom.xml", "/feed.json", "/sitemap_index.xml"])
def test_each_format_indexes_the_whole_article_with_the_feeds_metadata(world, feeds, stories, path):
    corpus, sources, fetcher = world()
    feeds.site.publish(*stories[:3])
    source = sources.add(feeds.url + path)
    report = sync_sources(corpus, sources, fetcher=fetcher)
    assert report.errors == [] and len(report.new_doc_ids) == 3
    infos = {i.url: i for i in docs(corpus)}
    for story in stories[:3]:
        info = infos[f"{feeds.url}/articles/{story.slug}.html"]
        assert info.title == story.title and info.date == story.date and info.source == "Reuters"
        last_paragraph = story.body.split("\n\n")[-1]
        assert last_paragraph[:80] in corpus.document_text(info.doc_id)  # the article, not the feed's teaser
    state = sources.get(source.id).state
    assert state.last_success and state.failures == 0 and state.entries == 3 and not state.last_error


def test_a_second_sync_sends_validators_and_fetches_nothing_again(world, feeds, stories):
    corpus, sources, fetcher = world()
    feeds.site.publish(*stories[:3])
    source = sources.add(feeds.url + "/feed.xml")
    sync_sources(corpus, sources, fetcher=fetcher)
    article = f"/articles/{stories[0].slug}.html"
    assert len(feeds.site.hits(article)) == 1
    report = sync_sources(corpus, sources, only=[source.id], fetcher=fetcher)
    assert [r.status for r in report.results] == ["not-modified"]
    sent = feeds.site.hits("/feed.xml")[-1][2]
    assert sent["if-none-match"] and sent["if-modified-since"] and "citebot" in sent["user-agent"]
    feeds.site.publish(stories[3])
    report = sync_sources(corpus, sources, only=[source.id], fetcher=fetcher)
    assert len(report.new_doc_ids) == 1 and report.results[0].unchanged == 3
    assert len(feeds.site.hits(article)) == 1  # an entry seen before is not fetched again
    assert corpus.stats()["documents"] == 4


def test_an_edited_article_replaces_its_earlier_version(world, feeds, stories):
    corpus, sources, fetcher = world()
    feeds.site.publish(*stories[:2])
    source = sources.add(feeds.url + "/atom.xml")
    sync_sources(corpus, sources, fetcher=fetcher)
    story = stories[0]
    old = corpus.document(f"{feeds.url}/articles/{story.slug}.html")
    feeds.site.edit(story.slug, story.body.replace(story.body.split()[3], "zanzibarite", 1)
                    + "\n\nCorrection: the figures were revised by the ministry on Friday.")
    report = sync_sources(corpus, sources, only=[source.id], fetcher=fetcher)
    assert report.new_doc_ids == [] and len(report.replaced_doc_ids) == 1
    new = corpus.document(f"{feeds.url}/articles/{story.slug}.html")
    assert new.doc_id != old.doc_id and corpus.stats()["documents"] == 2
    assert "zanzibarite" in corpus.document_text(new.doc_id)
    hits = corpus.search("zanzibarite revised ministry", k=3)
    assert hits and hits[0].doc_id == new.doc_id


def test_a_page_that_cannot_be_fetched_falls_back_to_the_entrys_own_text(world, feeds, stories):
    corpus, sources, fetcher = world()
    feeds.site.publish(*stories[:2])
    feeds.site.override(f"/articles/{stories[0].slug}.html", status=500, body=b"oops")
    sources.add(feeds.url + "/feed.json")
    report = sync_sources(corpus, sources, fetcher=fetcher)
    [result] = report.results
    assert result.status == "ok" and result.fallbacks == 1 and len(report.new_doc_ids) == 2
    assert any("HTTP error 500" in e and "feed's own text" in e for e in result.errors)
    seen = sources.seen(result.source_id)
    assert sorted(e.origin for e in seen.values()) == ["article", "feed"]
    fallback = corpus.document(f"{feeds.url}/articles/{stories[0].slug}.html")
    assert stories[0].body.split("\n\n")[-1][:60] in corpus.document_text(fallback.doc_id)  # content_text is whole


def test_links_to_private_addresses_are_refused_and_the_rest_of_the_feed_goes_on(world, feeds, stories):
    corpus, sources, _ = world()
    fetcher = Fetcher(IngestOptions(allowed_networks=("127.0.0.1/32",), fetch_timeout=2, fetch_deadline=5),
                      HostGate(delay=0))
    feeds.site.publish(*stories[:2])
    feeds.site.extra_items.append(
        "<item><title>Metadata grab</title><link>http://169.254.169.254/latest/meta-data/</link>"
        "<description>Cloud metadata credentials were listed in this item, said the desk.</description></item>")
    sources.add(feeds.url + "/feed.xml")
    report = sync_sources(corpus, sources, fetcher=fetcher)
    [result] = report.results
    assert result.status == "ok" and len(result.new_doc_ids) == 3
    assert any("169.254.169.254" in e and "refused" in e for e in result.errors)


@pytest.mark.parametrize("override,message", [
    (dict(status=302, headers={"Location": "/bad.xml"}), "redirect"),
    (dict(status=503, body=b"down", headers={"Retry-After": "7200"}), "HTTP error 503"),
    (dict(status=200, body=b"<feed>" + b"x" * 100, trickle=0.2), "timed out"),
    (dict(status=200, body=b"<rss/>", headers={"Content-Length": str(100 * 1024 * 1024)}), "size limit"),
    (dict(status=200, body=b"<!doctype html><html><body><p>Welcome home</p></body></html>",
          headers={"Content-Type": "text/html"}), "HTML page"),
    (dict(status=200, body=b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
          b"<rss><channel><title>&b;</title></channel></rss>", headers={"Content-Type": "application/rss+xml"}),
     "XML bomb"),
    (dict(status=200, body=b"<rss><channel><item><title>unclosed", headers={"Content-Type": "application/rss+xml"}),
     "not a readable feed"),
])
def test_one_bad_source_is_one_line_of_state_and_never_stops_the_others(world, feeds, stories, override, message):
    corpus, sources, fetcher = world()
    fetcher = Fetcher(IngestOptions(allow_private_urls=True, fetch_timeout=0.5, fetch_deadline=1.5), HostGate(delay=0))
    feeds.site.publish(*stories[:2])
    feeds.site.override("/bad.xml", **override)
    bad = sources.add(feeds.url.replace("127.0.0.1", "localhost") + "/bad.xml")  # another host: a Retry-After
    good = sources.add(feeds.url + "/feed.xml")  # pauses only the host that sent it
    before = time.time()
    report = sync_sources(corpus, sources, fetcher=fetcher)
    by_id = {r.source_id: r for r in report.results}
    assert by_id[good.id].status == "ok" and len(by_id[good.id].new_doc_ids) == 2
    assert by_id[bad.id].status == "error"
    state = sources.get(bad.id).state
    assert message in state.last_error and "\n" not in state.last_error
    assert state.failures == 1 and state.next_due >= before + bad.every
    if "Retry-After" in override.get("headers", {}):
        assert state.next_due >= before + 7200


def test_a_failing_source_backs_off_exponentially_and_recovers(world, feeds, stories):
    corpus, sources, fetcher = world()
    feeds.site.override("/feed.xml", status=500, body=b"err")
    source = sources.add(feeds.url + "/feed.xml", every="1m")
    now = time.time()
    delays = []
    for _ in range(4):
        sync_sources(corpus, sources, only=[source.id], fetcher=fetcher, now=now)
        delays.append(round(sources.get(source.id).state.next_due - now))
    assert delays == [60, 120, 240, 480] and sources.get(source.id).state.failures == 4
    feeds.site.overrides.clear()
    feeds.site.publish(stories[0])
    sync_sources(corpus, sources, only=[source.id], fetcher=fetcher, now=now)
    state = sources.get(source.id).state
    assert (state.failures, state.last_error, round(state.next_due - now)) == (0, "", 60)


def test_items_that_vanish_leave_their_documents_and_come_back_unfetched(world, feeds, stories):
    corpus, sources, fetcher = world()
    feeds.site.publish(*stories[:3])
    source = sources.add(feeds.url + "/feed.xml")
    sync_sources(corpus, sources, fetcher=fetcher)
    kept = list(feeds.site.stories)
    feeds.site.withdraw_all()
    report = sync_sources(corpus, sources, only=[source.id], fetcher=fetcher)
    assert report.results[0].status == "ok" and report.results[0].entries == 0
    assert corpus.stats()["documents"] == 3
    feeds.site.stories = kept
    report = sync_sources(corpus, sources, only=[source.id], fetcher=fetcher)
    assert report.new_doc_ids == [] and report.results[0].unchanged == 3


def test_ten_thousand_entries_are_taken_a_capped_number_per_sync(world, feeds):
    corpus, sources, fetcher = world()
    feeds.site.extra_json_items.extend(
        {"id": f"b{i}", "url": f"/bulletins/{i}", "title": f"Bulletin {i}",
         "content_text": f"Bulletin number {i} reports harvest figures for district {i} of the plains."}
        for i in range(10_000))  # JSON Feed: feedparser would spend ~6 s per parse of 10,000 RSS items here
    source = sources.add(feeds.url + "/feed.json")
    options = SyncOptions(fetch_articles=False, max_entries=40)
    report = sync_sources(corpus, sources, fetcher=fetcher, options=options)
    assert len(report.new_doc_ids) == 40 and any("10000 new or changed entries" in e for e in report.errors)
    report = sync_sources(corpus, sources, only=[source.id], fetcher=fetcher, options=options)
    assert len(report.new_doc_ids) == 40 and corpus.stats()["documents"] == 80
    assert feeds.site.hits("/bulletins/0") == []  # fetch_articles=False: the entry's own text


def test_requests_to_one_host_take_turns_with_a_polite_delay(world, feeds, stories):
    corpus, sources, _ = world()
    fetcher = Fetcher(IngestOptions(allow_private_urls=True), HostGate(delay=0.3))
    feeds.site.publish(*stories[:3])
    sources.add(feeds.url + "/feed.xml")
    sync_sources(corpus, sources, fetcher=fetcher)
    times = [t for t, _, _ in feeds.site.requests]
    assert len(times) == 4
    assert all(b - a >= 0.3 for a, b in zip(times, times[1:]))


def test_a_folder_is_rescanned_new_and_changed_files_added_vanished_ones_pruned(world, tmp_path, stories):
    corpus, sources, fetcher = world()
    folder = tmp_path / "inbox"
    folder.mkdir()
    for story in stories[:3]:
        (folder / f"{story.slug}.txt").write_text(f"{story.title}\n\n{story.body}\n", encoding="utf-8")
    (folder / "notes.bin").write_bytes(b"\x00\x01")  # unsupported: not walked
    source = sources.add(str(folder), prune=True)
    report = sync_sources(corpus, sources, fetcher=fetcher)
    assert len(report.new_doc_ids) == 3 and report.errors == []
    changed = folder / f"{stories[0].slug}.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + "\nAn update: the harbour reopened on Monday.\n",
                       encoding="utf-8")
    (folder / f"{stories[1].slug}.txt").unlink()
    (folder / f"{stories[3].slug}.txt").write_text(f"{stories[3].title}\n\n{stories[3].body}\n", encoding="utf-8")
    report = sync_sources(corpus, sources, only=[source.id], fetcher=fetcher)
    [result] = report.results
    assert (len(result.new_doc_ids), len(result.replaced_doc_ids), len(result.removed_doc_ids)) == (1, 1, 1)
    assert corpus.stats()["documents"] == 3
    assert "harbour reopened" in corpus.document_text(corpus.document(str(changed.resolve())).doc_id)
    report = sync_sources(corpus, sources, only=[source.id], fetcher=fetcher)
    assert report.results[0].unchanged == 3 and report.new_doc_ids == report.removed_doc_ids == []


def test_a_folder_without_prune_keeps_documents_of_deleted_files(world, tmp_path, stories):
    corpus, sources, fetcher = world()
    folder = tmp_path / "keep"
    folder.mkdir()
    path = folder / "a.txt"
    path.write_text(stories[0].body, encoding="utf-8")
    source = sources.add(str(folder))
    sync_sources(corpus, sources, fetcher=fetcher)
    path.unlink()
    report = sync_sources(corpus, sources, only=[source.id], fetcher=fetcher)
    assert report.removed_doc_ids == [] and corpus.stats()["documents"] == 1


def test_a_source_another_process_holds_is_skipped(world, feeds, stories, tmp_path):
    corpus, sources, fetcher = world()
    from retrieval.sources import open_sources
    from tests.retrieval.sources.conftest import make_settings

    feeds.site.publish(stories[0])
    source = sources.add(feeds.url + "/feed.xml")
    other = open_sources(make_settings(tmp_path))
    try:
        assert other.claim(source.id)
        report = sync_sources(corpus, sources, fetcher=fetcher)
        assert [r.status for r in report.results] == ["skipped"] and corpus.stats()["documents"] == 0
    finally:
        other.close()
    assert sync_sources(corpus, sources, fetcher=fetcher).new_doc_ids


def test_an_article_host_asking_for_a_pause_leaves_its_entries_for_a_later_sync(world, feeds, stories):
    corpus, sources, fetcher = world()
    feeds.site.publish(*stories[:2])
    first = f"/articles/{stories[1].slug}.html"  # the newest: the feed lists it first
    feeds.site.override(first, status=429, body=b"slow down", headers={"Retry-After": "3600"})
    source = sources.add(feeds.url + "/feed.xml")
    report = sync_sources(corpus, sources, fetcher=fetcher)
    assert report.new_doc_ids == [] and report.results[0].fallbacks == 0  # no teaser indexed in its place
    assert any("later sync" in e for e in report.errors)
    assert feeds.site.hits(f"/articles/{stories[0].slug}.html") == []  # the host is paused: not asked again
    feeds.site.overrides.clear()
    fetcher.gate = HostGate(delay=0)  # the pause is over
    report = sync_sources(corpus, sources, only=[source.id], fetcher=fetcher)
    assert len(report.new_doc_ids) == 2 and corpus.stats()["documents"] == 2


def test_a_gzipped_news_sitemap_is_followed(world, feeds, stories):
    import gzip

    corpus, sources, fetcher = world()
    feeds.site.publish(*stories[:2])
    body = gzip.compress(feeds.site.news_sitemap(feeds.url))
    feeds.site.override("/news-sitemap.xml.gz", status=200, body=body, headers={"Content-Type": "application/x-gzip"})
    source = sources.add(feeds.url + "/news-sitemap.xml.gz")
    assert source.kind == "sitemap"
    report = sync_sources(corpus, sources, fetcher=fetcher)
    assert report.errors == [] and len(report.new_doc_ids) == 2
