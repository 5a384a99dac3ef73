"""Fixtures of the per-part contract suites: a fresh store on each engine, and documents to put in it."""
from __future__ import annotations

import pytest

from retrieval.storage import NewDocument, NewPassage, Storage, open_postgres, open_sqlite
from retrieval.text.lexical import terms
from retrieval.types import Document, text_hash

ENGINES = ("sqlite", "postgresql")


@pytest.fixture(params=ENGINES)
def store(request, tmp_path) -> Storage:
    """An empty corpus store on each engine (SQLite in a temp dir, a fresh PostgreSQL database)."""
    opened = open_sqlite(tmp_path / "index") if request.param == "sqlite" else \
        open_postgres(request.getfixturevalue("pg_url"))
    yield opened
    opened.close()


def new_document(text: str, title: str = "T", **meta) -> NewDocument:
    """A document whose passages are its paragraphs (blank-line separated), terms stemmed as the corpus does."""
    passages = [NewPassage(i, 0, len(p), p, text_hash(f"{title}\n{p}"), [(0, len(p))], terms(p))
                for i, p in enumerate(text.split("\n\n"))]
    return NewDocument(Document(text, title=title, lang="en", **meta), content_hash=text_hash(text),
                       title_terms=terms(title), passages=passages)
