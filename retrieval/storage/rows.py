"""What both engines' SQL shares, written once: the column lists and their mapping to value types, the
filter clause, id chunks, and which vector size counts when a model's stored vectors disagree.

The engines differ only in placeholders (``?``/``:name`` for SQLite, ``%s``/``%(name)s`` for psycopg)
and in how JSON columns come back (text in SQLite, decoded lists from PostgreSQL's jsonb).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from ..types import Document, DocumentInfo
from .base import NewDocument, NewPassage, PassageRow, SearchFilters, StoredDocument

INFO_SQL = """SELECT d.id, d.title, d.date, d.source, d.url, d.lang, d.path, d.added, d.content_hash,
                     (SELECT count(*) FROM passages p WHERE p.doc_id = d.id) FROM documents d"""
PASSAGE_SQL = """SELECT p.id, p.doc_id, p.ordinal, p.start, p."end", p.text, p.embed_hash, p.sentences,
                        d.title, d.date, d.source, d.url, d.page_starts
                 FROM passages p JOIN documents d ON d.id = p.doc_id"""
EXPORT_SQL = """SELECT id, content_hash, title, date, source, url, lang, path, place, page_starts, signature,
                       added, text FROM documents"""
MAX_ID = 2**63  # ids are 64-bit signed on both engines: anything outside is simply absent


def chunks(items: Sequence, size: int) -> Iterator[list]:
    """``items`` in lists of at most ``size`` (an IN list / ANY array per query)."""
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]


def json_value(value: Any) -> Any:
    """A JSON column as Python: text from SQLite, already decoded from PostgreSQL's jsonb."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def sentences_json(spans: Iterable[tuple[int, int]]) -> str:
    """The stored form of a passage's sentence spans."""
    return json.dumps([list(s) for s in spans])


def document_info(row: Sequence) -> DocumentInfo:
    """One row of :data:`INFO_SQL`."""
    return DocumentInfo(doc_id=int(row[0]), title=row[1], date=row[2], source=row[3], url=row[4], lang=row[5],
                        path=row[6], added=row[7], content_hash=row[8], passages=int(row[9]))


def passage_row(r: Sequence) -> PassageRow:
    """One row of :data:`PASSAGE_SQL`."""
    return PassageRow(int(r[0]), int(r[1]), r[2], r[3], r[4], r[5], r[6], [tuple(s) for s in json_value(r[7])],
                      r[8], r[9], r[10], r[11], list(json_value(r[12])))


def stored_document(d: Sequence, passages: Iterable[Sequence], terms: Callable[[str], list[str]]) -> StoredDocument:
    """One row of :data:`EXPORT_SQL` with its passages' rows (id, ordinal, start, end, text, embed_hash,
    sentences[, the lexical body as stored, or None]); terms not stored are computed from the text."""
    out = []
    for r in passages:
        body = r[7] if len(r) > 7 else None
        out.append(NewPassage(r[1], r[2], r[3], r[4], r[5], [tuple(s) for s in json_value(r[6])],
                              body.split() if body is not None else terms(r[4]), passage_id=int(r[0])))
    document = Document(d[12], title=d[2], date=d[3], source=d[4], url=d[5], lang=d[6], path=d[7], place=d[8],
                        page_starts=list(json_value(d[9])))
    return StoredDocument(NewDocument(document, content_hash=d[1], title_terms=terms(d[2]), passages=out,
                                      signature=bytes(d[10]) if d[10] is not None else None, doc_id=int(d[0]),
                                      added=d[11]))


NAMED = ":{}"  # a named placeholder in SQL written once for both engines (and in SQLite's own)
PYFORMAT = "%({})s"  # ... in psycopg's own SQL


def filter_sql(filters: SearchFilters, param: str = NAMED) -> tuple[str, dict[str, Any]]:
    """The WHERE condition over ``documents d`` for ``filters`` (``"1=1"`` when none) and its named
    parameters; ``param`` is the placeholder style (:data:`NAMED` or :data:`PYFORMAT`)."""
    clauses: list[str] = []
    args: dict[str, Any] = {}
    if filters.since:
        clauses.append(f"d.date >= {param.format('f_since')}")
        args["f_since"] = filters.since
    if filters.until:
        clauses.append(f"d.date <= {param.format('f_until')}")
        args["f_until"] = filters.until
    if filters.source:
        clauses.append(f"lower(d.source) = lower({param.format('f_source')})")
        args["f_source"] = filters.source
    return (" AND ".join(clauses) or "1=1"), args


def common_size(counts: Mapping[int, int], unit: int = 1) -> int | None:
    """The size a model's vectors have, from how many vectors have each size: the most common among usable
    sizes (positive, whole ``unit`` multiples), the first seen on a tie; None when none is usable. Vectors
    of any other size are damage: left out of search on both engines, reported by verify."""
    usable = {n: c for n, c in counts.items() if n > 0 and n % unit == 0}
    return max(usable, key=usable.__getitem__) if usable else None
