"""Sitemaps into entries: ``<urlset>`` pages (with Google News ``<news:publication_date>`` and
``<news:title>``) and ``<sitemapindex>`` files listing further sitemaps.

Parsed with ``defusedxml`` (no DTD, no entity expansion, no external fetches). A page's signature is
its ``lastmod`` (or publication date), so it is fetched again only when the sitemap says it changed.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from ..errors import UserError
from ..ingest.dates import parse_date
from .feeds import Entry, refuse_entities, signature

MAX_CHILD_SITEMAPS = 50  # sitemaps followed from one index per sync


@dataclass
class ParsedSitemap:
    """The pages a sitemap lists, or (for an index) the sitemaps it lists."""

    entries: list[Entry] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


def looks_like_sitemap(body: bytes) -> bool:
    head = body[:4000]
    return b"<urlset" in head or b"<sitemapindex" in head


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_sitemap(body: bytes, url: str) -> ParsedSitemap:
    refuse_entities(body, url)
    from defusedxml import ElementTree
    from defusedxml.common import DefusedXmlException

    try:
        root = ElementTree.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise UserError(f"{url}: refused: the sitemap declares a DTD or entities", code="xml_entities") from None
    except Exception as exc:  # xml.etree ParseError
        raise UserError(f"{url}: not readable XML ({str(exc).splitlines()[0][:200]})", code="not_a_feed") from None
    kind = _local(root.tag)
    out = ParsedSitemap()
    if kind == "sitemapindex":
        for node in root:
            loc = _child_text(node, "loc")
            full = _absolute(loc, url)
            if full:
                out.children.append(full)
        return out
    if kind != "urlset":
        raise UserError(f"{url}: not a sitemap (root element <{kind}>)", code="not_a_feed")
    for node in root:
        if _local(node.tag) != "url":
            continue
        link = _absolute(_child_text(node, "loc"), url)
        if not link:
            continue
        lastmod = _child_text(node, "lastmod")
        news = next((c for c in node if _local(c.tag) == "news"), None)
        published = _child_text(news, "publication_date") if news is not None else ""
        title = _child_text(news, "title") if news is not None else ""
        date = parse_date(published[:10]) if published else (parse_date(lastmod[:10]) if lastmod else None)
        out.entries.append(Entry(key=link, link=link, title=title, date=date,
                                 signature=signature(lastmod or published or "", title)))
    return out


def _child_text(node, name: str) -> str:  # type: ignore[no-untyped-def]
    if node is None:
        return ""
    for child in node:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _absolute(link: str, base: str) -> str:
    if not link:
        return ""
    try:
        full = urllib.parse.urljoin(base, link.strip())
    except ValueError:
        return ""
    return full if full.lower().startswith(("http://", "https://")) else ""
