"""A local news site for sync tests and the freshness benchmark: feeds (RSS 2.0, Atom, JSON Feed),
sitemaps (a news sitemap and a sitemap index) and article pages built from Reuters-21578 stories, on
127.0.0.1, changing whenever the test publishes, edits or withdraws a story.

The feeds answer conditional GETs (ETag and Last-Modified, 304 when unchanged), every request is
logged with its headers, and any path can be given a hostile answer (a status, a body, headers, a
delay) to play a broken or slow server.
"""
from __future__ import annotations

import email.utils
import hashlib
import html
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REUTERS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "reuters21578"
_STORY = re.compile(r"<REUTERS[^>]*NEWID=\"(\d+)\">(.*?)</REUTERS>", re.S)


@dataclass
class Story:
    """One article of the site: ``slug`` names its page /articles/<slug>.html."""

    slug: str
    title: str
    body: str
    date: str  # YYYY-MM-DD
    author: str = "Reuters staff"
    feed: int = 0  # which /f/<n>.xml lists it (the benchmark's many feeds); /feed.xml lists every story
    version: int = 1
    published: float = field(default_factory=time.time)


def reuters_stories(count: int, start: int = 0, files: int = 2) -> list[Story]:
    """``count`` distinct Reuters stories with a title and a body of at least 80 words; a story nearly
    identical to an earlier one (Reuters repeats wires) is left out, as the corpus would refuse it."""
    from retrieval.corpus.neardup import is_near_duplicate, signature

    out: list[Story] = []
    signatures: list[bytes] = []
    skip = start
    for sgm in sorted(REUTERS.glob("reut2-*.sgm"))[:files]:
        text = sgm.read_bytes().decode("latin-1")
        for newid, raw in _STORY.findall(text):
            title = re.search(r"<TITLE>(.*?)</TITLE>", raw, re.S)
            body = re.search(r"<BODY>(.*?)</BODY>", raw, re.S)
            if not title or not body:
                continue
            words = html.unescape(body.group(1)).replace("\x03", "").split()
            if len(words) < 80 or words[-1:] == ["Reuter"] and len(words) < 81:
                continue
            if skip:
                skip -= 1
                continue
            paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s{3,}", html.unescape(body.group(1)))]
            paragraphs = [p.replace("\x03", "").removesuffix(" Reuter").strip() for p in paragraphs]
            story_body = "\n\n".join(p for p in paragraphs if p)
            sig = signature(story_body)
            if any(is_near_duplicate(sig, other) for other in signatures):
                continue
            signatures.append(sig)
            out.append(Story(slug=f"r{newid}", title=html.unescape(title.group(1)).strip().title(),
                             body=story_body, date=f"1987-03-{len(out) % 28 + 1:02d}"))
            if len(out) >= count:
                return out
    return out


@dataclass
class Override:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    trickle: float = 0.0  # seconds between 1-byte writes (a slow server)


class FeedSite:
    """What the server serves; tests change it between polls. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stories: list[Story] = []  # newest last
        self.overrides: dict[str, Override] = {}
        self.requests: list[tuple[float, str, dict[str, str]]] = []
        self.extra_items: list[str] = []  # raw RSS <item> XML appended to /feed.xml (hostile entries)
        self.extra_json_items: list[dict] = []  # items appended to /feed.json
        self.feed_count = 20  # items per feed (the newest)
        self.article_delay = 0.0  # seconds each article page takes (a slow site, so a kill lands mid-sync)

    # -- what tests do ---------------------------------------------------------------------------------
    def publish(self, *stories: Story) -> None:
        with self.lock:
            for story in stories:
                story.published = time.time()
                self.stories.append(story)

    def edit(self, slug: str, body: str) -> Story:
        with self.lock:
            story = next(s for s in self.stories if s.slug == slug)
            story.body = body
            story.version += 1
            story.published = time.time()
            return story

    def withdraw_all(self) -> None:
        with self.lock:
            self.stories = []

    def override(self, path: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            self.overrides[path] = Override(**kwargs)

    def hits(self, path: str) -> list[tuple[float, str, dict[str, str]]]:
        with self.lock:
            return [r for r in self.requests if r[1] == path]

    # -- rendering --------------------------------------------------------------------------------------
    def _current(self, feed: int | None = None) -> list[Story]:
        chosen = [s for s in self.stories if feed is None or s.feed == feed]
        return list(reversed(chosen[-self.feed_count:]))

    def article(self, slug: str) -> bytes | None:
        story = next((s for s in self.stories if s.slug == slug), None)
        if story is None:
            return None
        paragraphs = "".join(f"<p>{html.escape(p)}</p>\n" for p in story.body.split("\n\n"))
        return (f"<!doctype html><html><head><title>{html.escape(story.title)}</title>"
                f'<meta property="article:published_time" content="{story.date}T10:00:00Z">'
                f'<meta property="og:site_name" content="Reuters">'
                f"</head><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav><article>"
                f"<h1>{html.escape(story.title)}</h1>\n{paragraphs}</article>"
                f"<footer>Copyright 1987 Reuters</footer></body></html>").encode("utf-8")

    def version_tag(self, feed: int | None = None) -> str:
        state = ("|".join(f"{s.slug}:{s.version}" for s in self._current(feed)) + "|" + "".join(self.extra_items)
                 + str(len(self.extra_json_items)))
        return '"' + hashlib.sha1(state.encode()).hexdigest()[:16] + '"'

    def last_modified(self) -> str:
        newest = max((s.published for s in self.stories), default=0.0)
        return email.utils.formatdate(newest, usegmt=True)

    def rss(self, base: str, feed: int | None = None) -> bytes:
        items = "".join(
            f"<item><title>{html.escape(s.title)}</title><link>{base}/articles/{s.slug}.html</link>"
            f"<guid>{base}/articles/{s.slug}.html</guid>"
            f"<pubDate>{email.utils.formatdate(time.mktime(time.strptime(s.date, '%Y-%m-%d')), usegmt=True)}</pubDate>"
            f"<author>desk@reuters.example ({html.escape(s.author)})</author>"
            f"<description>{html.escape(s.body.split(chr(10))[0])} (v{s.version})</description></item>\n"
            for s in self._current(feed))
        return (f'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Reuters wire</title>'
                f"<link>{base}/</link><description>test wire</description>\n{items}{''.join(self.extra_items)}"
                f"</channel></rss>").encode("utf-8")

    def atom(self, base: str) -> bytes:
        entries = "".join(
            f"<entry><title>{html.escape(s.title)}</title><link href=\"/articles/{s.slug}.html\"/>"
            f"<id>tag:reuters.example,1987:{s.slug}</id><updated>{s.date}T10:00:0{min(s.version, 9)}Z</updated>"
            f"<published>{s.date}T10:00:00Z</published><author><name>{html.escape(s.author)}</name></author>"
            f"<summary>{html.escape(s.body.split(chr(10))[0])}</summary></entry>\n"
            for s in self._current())
        return (f'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" '
                f'xml:base="{base}/"><title>Reuters Atom</title><id>tag:reuters.example,1987:feed</id>'
                f"<updated>1987-03-01T00:00:00Z</updated>\n{entries}</feed>").encode("utf-8")

    def json_feed(self, base: str) -> bytes:
        return json.dumps({
            "version": "https://jsonfeed.org/version/1.1", "title": "Reuters JSON", "home_page_url": base + "/",
            "items": [{"id": s.slug, "url": f"/articles/{s.slug}.html", "title": s.title,
                       "content_text": s.body, "date_published": f"{s.date}T10:00:00Z",
                       "date_modified": f"{s.date}T10:00:0{min(s.version, 9)}Z",
                       "authors": [{"name": s.author}]} for s in self._current()] + self.extra_json_items,
        }).encode("utf-8")

    def news_sitemap(self, base: str) -> bytes:
        urls = "".join(
            f"<url><loc>{base}/articles/{s.slug}.html</loc><lastmod>{s.date}T10:00:0{min(s.version, 9)}Z</lastmod>"
            f"<news:news><news:publication><news:name>Reuters</news:name><news:language>en</news:language>"
            f"</news:publication><news:publication_date>{s.date}T10:00:00Z</news:publication_date>"
            f"<news:title>{html.escape(s.title)}</news:title></news:news></url>\n" for s in self._current())
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
                'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n' + urls + "</urlset>").encode("utf-8")

    def sitemap_index(self, base: str) -> bytes:
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                f"<sitemap><loc>{base}/news-sitemap.xml</loc></sitemap></sitemapindex>").encode("utf-8")


FEEDS = {"/feed.xml": ("rss", "application/rss+xml"), "/atom.xml": ("atom", "application/atom+xml"),
         "/feed.json": ("json_feed", "application/feed+json"), "/news-sitemap.xml": ("news_sitemap", "application/xml"),
         "/sitemap_index.xml": ("sitemap_index", "application/xml")}


class _Handler(BaseHTTPRequestHandler):
    site: FeedSite
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        site = self.site
        path = self.path.split("?", 1)[0]
        host, port = self.server.server_address[:2]
        base = f"http://{host}:{port}"
        with site.lock:
            site.requests.append((time.time(), path, {k.lower(): v for k, v in self.headers.items()}))
            override = site.overrides.get(path)
            if override is None:
                status, body, headers = self._render(site, path, base)
        if path.startswith("/articles/") and site.article_delay:
            time.sleep(site.article_delay)
        if override is not None:
            time.sleep(override.delay)
            status, body, headers = override.status, override.body, dict(override.headers)
            if override.trickle:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(override.trickle)
                return
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _render(self, site: FeedSite, path: str, base: str) -> tuple[int, bytes, dict[str, str]]:
        if path in FEEDS:
            method, ctype = FEEDS[path]
            etag, modified = site.version_tag(), site.last_modified()
            if self.headers.get("If-None-Match") == etag:
                return 304, b"", {"ETag": etag, "Last-Modified": modified}
            return 200, getattr(site, method)(base), {"Content-Type": ctype + "; charset=utf-8", "ETag": etag,
                                                      "Last-Modified": modified}
        numbered = re.fullmatch(r"/f/(\d+)\.xml", path)
        if numbered:
            feed = int(numbered.group(1))
            etag = site.version_tag(feed)
            if self.headers.get("If-None-Match") == etag:
                return 304, b"", {"ETag": etag}
            return 200, site.rss(base, feed), {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": etag}
        match = re.fullmatch(r"/articles/([\w-]+)\.html", path)
        if match:
            page = site.article(match.group(1))
            if page is not None:
                return 200, page, {"Content-Type": "text/html; charset=utf-8"}
        return 404, b"not found", {"Content-Type": "text/plain"}

    def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # type: ignore[no-untyped-def]
        pass


class FeedServer:
    """``with FeedServer() as server:`` -- ``server.url`` is http://127.0.0.1:PORT, ``server.site`` the content."""

    def __init__(self, site: FeedSite | None = None, port: int = 0, host: str = "127.0.0.1") -> None:
        self.site = site or FeedSite()
        handler = type("Handler", (_Handler,), {"site": self.site})
        self.httpd = _Server((host, port), handler)  # any 127.x.y.z: loopback, a "different host" for politeness
        self.url = f"http://{host}:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FeedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


if __name__ == "__main__":  # a site for trying `citebot sync` by hand: python -m tests.fakes.feed_server
    import sys

    with FeedServer(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0) as server:
        server.site.publish(*reuters_stories(5))
        print(f"serving {server.url}/feed.xml", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
