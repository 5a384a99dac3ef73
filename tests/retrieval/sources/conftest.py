"""Fixtures for the sources tests: the local news site, a corpus on the hash embedder (SQLite or
PostgreSQL), its sources store, and a fetcher allowed to reach 127.0.0.1 with no politeness delay."""
from __future__ import annotations

import pytest

from retrieval import Corpus, load_settings
from retrieval.ingest import IngestOptions
from retrieval.sources import open_sources
from retrieval.sources.http import Fetcher, HostGate
from tests.fakes.feed_server import FeedServer, reuters_stories
from tests.fakes.hash_embedder import HashEmbedder


@pytest.fixture
def feeds():
    """A running local news site (``feeds.url``, ``feeds.site``) with no stories yet."""
    with FeedServer() as server:
        yield server


@pytest.fixture(scope="session")
def stories():
    return reuters_stories(60)


def make_settings(tmp_path, url: str = "", **overrides):
    return load_settings(env={}).replace(home=str(tmp_path / "index"), database_url=url,
                                         allow_private_urls=True, **overrides)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_url(request):
    """"" for SQLite, a fresh PostgreSQL database's URL for the other engine."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else ""


@pytest.fixture
def world(tmp_path):
    """``world(url="")`` -> (corpus, sources, fetcher) on a fresh index; closed after the test."""
    opened = []

    def factory(url: str = "", **overrides):
        settings = make_settings(tmp_path, url, **overrides)
        corpus = Corpus(settings, embedder=HashEmbedder())
        sources = open_sources(settings)
        opened.append((corpus, sources))
        fetcher = Fetcher(IngestOptions.from_settings(settings, fetch_timeout=2, fetch_deadline=5), HostGate(delay=0))
        return corpus, sources, fetcher

    yield factory
    for corpus, sources in opened:
        sources.close()
        corpus.close()
