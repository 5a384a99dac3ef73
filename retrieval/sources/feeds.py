"""Feeds into entries: RSS 0.9x/1.0/2.0 and Atom with ``feedparser``, JSON Feed 1.0/1.1 with ``json``.

An entry is what a sync needs to decide and index: a key (its absolute link, else its id), the link,
what the feed says about it (title, date, author, text) and a signature of that, so an item whose feed
record changed (edited title, new ``updated`` date, new summary) is fetched again and one that did not
is left alone. Hostile input is refused before parsing: a document declaring XML entities (the "billion
laughs" bomb and external entities) is never expanded, HTML served as a feed and invalid XML without a
single readable item are one-line errors.
"""
from __future__ import annotations

import calendar
import hashlib
import html
import json
import re
import urllib.parse
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..errors import UserError
from ..ingest.dates import parse_date
from ..ingest.text import normalise_text

MAX_ENTRY_TEXT = 200_000  # characters of an entry's own text kept (a feed may inline whole books)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)
_DOCTYPE_SUBSET = re.compile(rb"<!DOCTYPE[^>\[]*\[", re.IGNORECASE)


@dataclass
class Entry:
    """One item of a feed or sitemap. ``text`` is the feed's own text of it (summary or content), used
    when the linked page cannot be fetched; ``date`` is ISO YYYY-MM-DD or None."""

    key: str
    link: str
    title: str = ""
    date: str | None = None
    author: str = ""
    text: str = ""
    signature: str = ""


@dataclass
class ParsedFeed:
    """A parsed feed: its title, its entries (in the feed's order) and the items it had to skip."""

    title: str
    entries: list[Entry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    format: str = ""


def refuse_entities(body: bytes, url: str) -> None:
    """Refuse XML that declares entities or an internal DTD subset: never expand, never fetch them."""
    head = body[:1_000_000]
    if _ENTITY.search(head) or _DOCTYPE_SUBSET.search(head):
        raise UserError(f"{url}: refused: the document declares XML entities (a possible XML bomb); "
                        f"citebot never expands them", code="xml_entities")


_ALTERNATE = re.compile(rb"<link\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(rb"""([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""")
_FEED_TYPES = (b"application/rss+xml", b"application/atom+xml", b"application/feed+json", b"application/json")


def discover(page: bytes, url: str) -> list[str]:
    """The feeds an HTML page names in ``<link rel="alternate" type="application/rss+xml" href=...>``
    (absolute URLs, in page order), so `sources add` of a site's home page can say which to follow."""
    found: list[str] = []
    for tag in _ALTERNATE.findall(page[:500_000]):
        attrs = {m[0].lower(): (m[1] or m[2] or m[3]) for m in _ATTR.findall(tag)}
        if b"alternate" in attrs.get(b"rel", b"").lower().split() and attrs.get(b"type", b"").lower() in _FEED_TYPES:
            link = _absolute(html.unescape(attrs.get(b"href", b"").decode("utf-8", "replace")), url)
            if link and link not in found:
                found.append(link)
    return found


def maybe_gunzip(body: bytes, url: str, limit: int) -> bytes:
    """A gzipped feed or sitemap (``sitemap.xml.gz``) unpacked, refusing one that inflates past ``limit``."""
    if body[:2] != b"\x1f\x8b":
        return body
    import zlib

    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise UserError(f"{url}: a damaged gzip file ({exc})", code="not_a_feed") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise UserError(f"{url}: refused: it inflates past the size limit of {limit} bytes", code="too_large")
    return out


def is_json_feed(body: bytes, content_type: str) -> bool:
    if "json" in content_type:
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def parse_feed(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Entries of a feed document fetched from ``url`` (relative links resolved against it)."""
    if not body.strip():
        raise UserError(f"{url}: empty feed", code="bad_feed")
    if is_json_feed(body, content_type):
        return parse_json_feed(body, url)
    refuse_entities(body, url)
    import feedparser

    parsed = feedparser.parse(body, response_headers={"content-location": url,
                                                      "content-type": content_type or "application/xml"},
                              sanitize_html=True, resolve_relative_uris=True)
    version = parsed.get("version") or ""
    entries = parsed.get("entries") or []
    if not entries and (not version or parsed.get("bozo")):
        head = body[:2000].lower()
        if b"<html" in head or b"<!doctype html" in head:
            found = discover(body, url)
            hint = f"; the page names its feed: follow {found[0]}" if found else ""
            raise UserError(f"{url}: this is an HTML page, not a feed (RSS, Atom or JSON Feed){hint}",
                            code="not_a_feed", feeds=found)
        problem = parsed.get("bozo_exception")
        detail = f" ({str(problem).splitlines()[0][:200]})" if problem else ""
        raise UserError(f"{url}: not a readable feed{detail}", code="not_a_feed")
    feed = parsed.get("feed") or {}
    out = ParsedFeed(title=_plain(feed.get("title", "")), format=version or "rss")
    for item in entries:
        with warnings.catch_warnings():  # feedparser warns when `updated` falls back to `published`
            warnings.simplefilter("ignore", DeprecationWarning)
            entry = _feedparser_entry(item, url)
        if isinstance(entry, str):
            out.skipped.append(entry)
        else:
            out.entries.append(entry)
    if parsed.get("bozo") and not out.entries:  # broken XML and nothing readable in it: not an empty feed
        problem = parsed.get("bozo_exception")
        detail = f" ({str(problem).splitlines()[0][:200]})" if problem else ""
        raise UserError(f"{url}: not a readable feed{detail}", code="not_a_feed")
    return out


def _feedparser_entry(item: Any, base: str) -> Entry | str:
    link = _absolute(item.get("link", "") or _first_alternate(item), base)
    ident = str(item.get("id", "") or "").strip()
    title = _plain(item.get("title", ""))
    if not link and not ident:
        return f"an entry without a link or an id was skipped ({title[:60] or 'untitled'})"
    content = item.get("content") or []
    raw = " ".join(c.get("value", "") for c in content if c.get("value")) or item.get("summary", "")
    date = _struct_date(item.get("published_parsed")) or _struct_date(item.get("updated_parsed"))
    author = _plain(item.get("author", ""))
    updated = item.get("updated", "") or item.get("published", "")
    text = _plain(raw)[:MAX_ENTRY_TEXT]
    return Entry(key=link or ident, link=link, title=title, date=date, author=author, text=text,
                 signature=signature(title, updated, text))


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """A JSON Feed (https://jsonfeed.org/version/1 or 1.1): items with ``url``/``id``, ``title``,
    ``content_html``/``content_text``/``summary``, ``date_published``/``date_modified``, authors."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UserError(f"{url}: not a readable JSON Feed ({type(exc).__name__})", code="not_a_feed") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith("https://jsonfeed.org/version/"):
        raise UserError(f"{url}: JSON, but not a JSON Feed (no jsonfeed.org version)", code="not_a_feed")
    items = data.get("items")
    if not isinstance(items, list):
        raise UserError(f"{url}: a JSON Feed without an items list", code="not_a_feed")
    base = str(data.get("home_page_url") or url) if isinstance(data.get("home_page_url"), str) else url
    out = ParsedFeed(title=_plain(_text(data.get("title"))), format="json1")
    feed_author = _json_author(data)
    for item in items:
        if not isinstance(item, dict):
            out.skipped.append("an item that is not an object was skipped")
            continue
        link = _absolute(_text(item.get("url")) or _text(item.get("external_url")), url if base == url else base)
        ident = _text(item.get("id")).strip()
        title = _plain(_text(item.get("title")))
        if not link and not ident:
            out.skipped.append(f"an item without a url or an id was skipped ({title[:60] or 'untitled'})")
            continue
        raw = _text(item.get("content_html")) or html.escape(_text(item.get("content_text"))) or _text(item.get("summary"))
        updated = _text(item.get("date_modified")) or _text(item.get("date_published"))
        date = parse_date(_text(item.get("date_published"))[:10]) if item.get("date_published") else None
        text = _plain(raw)[:MAX_ENTRY_TEXT]
        out.entries.append(Entry(key=link or ident, link=link, title=title, date=date,
                                 author=_json_author(item) or feed_author, text=text,
                                 signature=signature(title, updated, text)))
    return out


def signature(*parts: str) -> str:
    """What the feed said about an entry, hashed: a change means the entry is fetched again."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _json_author(obj: dict) -> str:
    authors = obj.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        return _plain(_text(authors[0].get("name")))
    author = obj.get("author")
    if isinstance(author, dict):
        return _plain(_text(author.get("name")))
    return ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _first_alternate(item: Any) -> str:
    for link in item.get("links") or []:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return ""


def _absolute(link: str, base: str) -> str:
    """An entry's link made absolute against the feed's address; "" for non-web links."""
    link = (link or "").strip()
    if not link:
        return ""
    try:
        full = urllib.parse.urljoin(base, link)
    except ValueError:
        return ""
    return full if full.lower().startswith(("http://", "https://")) else ""


def _struct_date(value: Any) -> str | None:
    if not value:
        return None
    try:
        stamp = calendar.timegm(value)
        return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


_BLOCK = re.compile(r"</?(?:p|div|br|li|h[1-6]|blockquote|tr|section|article)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def _plain(value: Any) -> str:
    """Feed HTML (already sanitised by feedparser) as plain text, paragraphs kept."""
    if not isinstance(value, str) or not value:
        return ""
    text = _BLOCK.sub("\n\n", value)
    text = html.unescape(_TAG.sub("", text))
    return normalise_text(text).strip()
