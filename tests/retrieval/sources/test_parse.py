"""Feeds and sitemaps into entries: the three feed formats, sitemaps, and input that must be refused."""
from __future__ import annotations

import json

import pytest

from retrieval.errors import UserError
from retrieval.sources.feeds import parse_feed
from retrieval.sources.sitemaps import parse_sitemap
from tests.fakes.feed_server import FeedSite, reuters_stories

BASE = "http://news.example"


@pytest.fixture(scope="module")
def site() -> FeedSite:
    site = FeedSite()
    site.publish(*reuters_stories(3))
    return site


@pytest.mark.parametrize("render,ctype", [("rss", "application/rss+xml"), ("atom", "application/atom+xml"),
                                          ("json_feed", "application/feed+json")])
def test_each_feed_format_gives_absolute_links_titles_dates_and_authors(site, render, ctype):
    feed = parse_feed(getattr(site, render)(BASE), f"{BASE}/feed", ctype)
    assert feed.title.startswith("Reuters")
    assert [e.link for e in feed.entries] == [f"{BASE}/articles/{s.slug}.html" for s in reversed(site.stories)]
    newest = site.stories[-1]
    entry = feed.entries[0]
    assert entry.title == newest.title
    assert entry.date == newest.date
    assert "Reuters staff" in entry.author
    assert entry.text and entry.signature


def test_json_feed_is_recognised_without_a_json_content_type(site):
    feed = parse_feed(site.json_feed(BASE), f"{BASE}/feed", "text/plain")
    assert len(feed.entries) == 3


def test_a_changed_item_changes_its_signature_and_only_its_own(site):
    before = {e.key: e.signature for e in parse_feed(site.rss(BASE), BASE).entries}
    edited = site.stories[0]
    site.edit(edited.slug, edited.body + "\n\nA correction was added.")
    after = {e.key: e.signature for e in parse_feed(site.rss(BASE), BASE).entries}
    changed = [k for k in before if before[k] != after[k]]
    assert changed == [f"{BASE}/articles/{edited.slug}.html"]


def test_rss_09x_and_rdf_10_feeds_are_read():
    rss091 = (b'<?xml version="1.0"?><rss version="0.91"><channel><title>Old wire</title><link>http://a.example/</link>'
              b"<item><title>Grain prices</title><link>http://a.example/1</link><description>Wheat rose.</description>"
              b"</item></channel></rss>")
    rdf = (b'<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
           b'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="http://b.example/"><title>RDF wire</title>'
           b"<link>http://b.example/</link></channel><item rdf:about=\"http://b.example/2\"><title>Oil output</title>"
           b"<link>http://b.example/2</link></item></rdf:RDF>")
    assert [e.link for e in parse_feed(rss091, "http://a.example/rss").entries] == ["http://a.example/1"]
    assert [e.link for e in parse_feed(rdf, "http://b.example/rdf").entries] == ["http://b.example/2"]


def test_entries_without_links_or_dates_and_relative_links():
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>'
            b"<item><title>No link, no date</title><description>Only text here.</description></item>"
            b"<item><title>Relative</title><link>/news/7.html</link></item>"
            b"<item><title>Guid only</title><guid isPermaLink=\"false\">urn:x:9</guid><description>Text.</description></item>"
            b"<item><title>Mail link</title><link>mailto:desk@a.example</link></item>"
            b"</channel></rss>")
    feed = parse_feed(body, "http://a.example/feeds/main.xml")
    by_title = {e.title: e for e in feed.entries}
    assert by_title["Relative"].link == "http://a.example/news/7.html"
    assert by_title["Relative"].date is None
    assert by_title["Guid only"].link == "" and by_title["Guid only"].key == "urn:x:9"
    assert "No link, no date" not in by_title and "Mail link" not in by_title
    assert len(feed.skipped) == 2


@pytest.mark.parametrize("body,message", [
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
     b'<rss version="2.0"><channel><title>&lol2;</title></channel></rss>', "XML bomb"),
    (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><rss><channel>'
     b"<title>&xxe;</title></channel></rss>", "entities"),
    (b"<!doctype html><html><head><title>Home</title></head><body><p>Welcome</p></body></html>", "HTML page"),
    (b"\x00\x01garbage that is no XML at all <<<", "not a readable feed"),
    (b'{"version": "https://jsonfeed.org/version/1.1", "items": 5}', "without an items list"),
    (b'{"not": "a feed"}', "not a JSON Feed"),
    (b"{broken json", "not a readable JSON Feed"),
    (b"   ", "empty feed"),
])
def test_hostile_or_wrong_documents_are_one_line_errors(body, message):
    with pytest.raises(UserError, match=message) as caught:
        parse_feed(body, "http://a.example/feed")
    assert "\n" not in str(caught.value)


def test_a_json_feed_item_that_is_not_an_object_is_skipped_not_fatal():
    body = json.dumps({"version": "https://jsonfeed.org/version/1", "title": "J",
                       "items": ["junk", {"id": "1", "url": "https://j.example/1", "content_text": "Body."}]}).encode()
    feed = parse_feed(body, "https://j.example/feed.json")
    assert [e.link for e in feed.entries] == ["https://j.example/1"] and len(feed.skipped) == 1


def test_news_sitemap_and_sitemap_index(site):
    parsed = parse_sitemap(site.news_sitemap(BASE), f"{BASE}/news-sitemap.xml")
    newest = site.stories[-1]
    entry = next(e for e in parsed.entries if newest.slug in e.link)
    assert entry.title == newest.title and entry.date == newest.date
    index = parse_sitemap(site.sitemap_index(BASE), f"{BASE}/sitemap_index.xml")
    assert index.children == [f"{BASE}/news-sitemap.xml"] and index.entries == []


def test_sitemap_bomb_and_non_sitemap_are_refused():
    bomb = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY a "aaaa">]><urlset xmlns="http://www.sitemaps.org/'
            b'schemas/sitemap/0.9"><url><loc>&a;</loc></url></urlset>')
    with pytest.raises(UserError, match="XML bomb"):
        parse_sitemap(bomb, "http://a.example/sitemap.xml")
    with pytest.raises(UserError, match="not a sitemap"):
        parse_sitemap(b"<html><body/></html>", "http://a.example/sitemap.xml")


def test_an_html_page_that_names_its_feed_says_which_to_follow():
    page = (b'<!doctype html><html><head><link rel="stylesheet" href="/s.css">'
            b'<link rel="alternate" type="application/rss+xml" title="News" href="/rss/news.xml">'
            b"</head><body><p>Home</p></body></html>")
    with pytest.raises(UserError, match="follow https://site.example/rss/news.xml") as caught:
        parse_feed(page, "https://site.example/")
    assert caught.value.params["feeds"] == ["https://site.example/rss/news.xml"]


def test_gzipped_sitemaps_are_unpacked_and_gzip_bombs_refused(site):
    import gzip

    from retrieval.sources.feeds import maybe_gunzip

    packed = gzip.compress(site.news_sitemap(BASE))
    assert len(parse_sitemap(maybe_gunzip(packed, "u", 10_000_000), f"{BASE}/s.xml.gz").entries) == 3
    bomb = gzip.compress(b"<urlset>" + b" " * 5_000_000)
    with pytest.raises(UserError, match="inflates past"):
        maybe_gunzip(bomb, "u", 1_000_000)
