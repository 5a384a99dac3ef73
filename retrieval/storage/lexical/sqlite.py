"""The lexical index in SQLite: an FTS5 table (``lexical``, rowid = passage id) ranked by FTS5's ``bm25()``.

FTS5 computes BM25 with its own k1 and b (``bm25.FTS5``); only the title field's weight is a parameter.
In a process that asks many questions (a server calls ``warm``; any process after ``MEMORY_AFTER``
searches) an in-memory copy (``lexical/memory.py``) answers instead, with the same scores, built in the
background from this table's rows; this module hands it the rows tokenised by
FTS5's own tokenizer (:class:`Fts5Tokens`), FTS5's totals to check it against, and the rebuild epoch.
"""
from __future__ import annotations

import re
import sqlite3
import threading
import uuid
from typing import Any, Iterator, Sequence

import numpy as np

from ...text.lexical import terms as stem
from ..base import NO_FILTERS, ScoredPassage, SearchFilters, VerifyReport, one_line_errors, sqlite_result
from ..bm25 import BM25, FTS5
from ..rows import chunks, filter_sql
from .base import Lexical, LexicalWriter
from .memory import Entries, SourceState

READ_BATCH = 20_000  # rows read from FTS5 at a time while the in-memory copy is built
_PLAIN = re.compile(r"[a-z0-9\u0430-\u044f]+")  # tokens FTS5's unicode61 leaves as they are
_PLAIN_FIELD = re.compile(r"[a-z0-9\u0430-\u044f ]*")  # a stored field of such tokens only


class Fts5Tokens:
    """What FTS5's tokenizer makes of each space-separated stored term: usually the term itself, but
    ``_`` separates tokens and unicode61 folds some characters Python's ``lower()`` leaves (``ſ`` -> ``s``,
    final ``ς`` -> ``σ``). Terms outside ``[a-z0-9а-я]`` are asked of an in-memory FTS5 table declared like
    the store's own, so the copy sees exactly the tokens FTS5 indexed. (No set of every plain term is
    kept: one regex over a whole field says it is plain, and long-lived strings made while a build's
    transient ones are alive would pin the heap's pages.)"""

    def __init__(self, create_sql: str) -> None:
        self._folded: dict[str, tuple[str, ...]] = {}
        self._conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        tokenize = re.search(r"(?i)tokenize\s*=\s*('(?:[^']|'')*'|\"[^\"]*\"|[\w ]+)", create_sql)
        self._conn.execute(f"CREATE VIRTUAL TABLE t USING fts5(x{', tokenize = ' + tokenize.group(1) if tokenize else ''})")
        self._conn.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    def _learn(self, odd: set[str]) -> None:
        if not odd or all(term in self._folded for term in odd):
            return
        with self._lock:  # the background build and a question may both learn (and compact swaps the dict)
            terms = sorted(term for term in odd if term not in self._folded)
            if not terms:
                return
            self._conn.execute("BEGIN")
            self._conn.execute("DELETE FROM t")
            self._conn.executemany("INSERT INTO t(rowid, x) VALUES (?, ?)", enumerate(terms, 1))
            found: dict[int, list[tuple[int, str]]] = {}
            for term, doc, offset in self._conn.execute("SELECT term, doc, offset FROM v"):
                found.setdefault(doc, []).append((offset, term))
            self._conn.execute("COMMIT")
            for i, term in enumerate(terms, 1):
                self._folded[term] = tuple(t for _, t in sorted(found.get(i, [])))

    def compact(self) -> None:
        """The cache copied into fresh strings after a build: made among the build's transient strings,
        its few hundred entries each pinned a page of the heap (at 100k passages ~130 MB of resident
        memory for ~1,000 entries)."""
        with self._lock:
            self._folded = {(term + " ")[:-1]: tuple((t + " ")[:-1] for t in tokens)
                            for term, tokens in self._folded.items()}

    def tokens(self, stored: str) -> list[str]:
        """The tokens of one stored field (its terms joined by spaces), in order."""
        terms = stored.split()
        if _PLAIN_FIELD.fullmatch(stored):
            return terms
        odd = {term for term in terms if not _PLAIN.fullmatch(term)}
        self._learn(odd)
        folded = self._folded
        return [t for term in terms for t in ((term,) if term not in odd else folded[term])]

    def query(self, terms: Sequence[str]) -> list[str] | None:
        """The one token each query term is to FTS5, in order; None if a term is a phrase of several
        tokens (or of none) to FTS5: the copy cannot answer that question."""
        odd = {term for term in terms if not _PLAIN.fullmatch(term)}
        self._learn(odd)
        out = []
        for term in terms:
            if term not in odd:
                out.append(term)
            elif len(self._folded[term]) == 1:
                out.append(self._folded[term][0])
            else:
                return None
        return out


def _varints(blob: bytes) -> list[int]:
    """SQLite's varints (FTS5's averages record: rows, then tokens per column)."""
    out, value, i = [], 0, 0
    while i < len(blob):
        if len(out) >= 16:
            break
        value, count = 0, 0
        while True:
            byte = blob[i]
            i += 1
            count += 1
            if count == 9:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80 or i >= len(blob):
                break
        out.append(value)
    return out


def fts_expression(terms: Sequence[str]) -> str | None:
    """An FTS5 MATCH expression OR-ing the distinct (already stemmed) terms; None when there are none."""
    distinct = [t.replace('"', '""') for t in dict.fromkeys(terms) if t]
    if not distinct:
        return None
    return " OR ".join(f'"{term}"' for term in distinct)


class SQLiteLexicalWriter(LexicalWriter):
    def add(self, passage_id: int, title_terms: Sequence[str], terms: Sequence[str]) -> int:
        self.conn.execute("INSERT INTO lexical(rowid, title, body) VALUES (?, ?, ?)",
                          (passage_id, " ".join(title_terms), " ".join(terms)))
        return len(title_terms) + len(terms)

    def remove_document(self, doc_id: int) -> None:
        self.conn.execute("DELETE FROM lexical WHERE rowid IN (SELECT id FROM passages WHERE doc_id = ?)", (doc_id,))


class SQLiteLexical(Lexical):
    """FTS5 over the stemmed terms of each passage's title and body (and its in-memory copy)."""

    def __init__(self, database: Any, bm25: BM25 = FTS5, memory: bool = False) -> None:
        super().__init__(database, bm25, memory)
        self._tokens: Fts5Tokens | None = None

    def close(self) -> None:
        super().close()
        if self._tokens is not None:
            self._tokens.close()
            self._tokens = None

    def writer(self, conn: sqlite3.Connection) -> LexicalWriter:
        return SQLiteLexicalWriter(conn)

    # -- what the in-memory copy is built from (memory.EntrySource) -----------------------------------
    def _fts5_tokens(self) -> Fts5Tokens:
        if self._tokens is None:
            with self.database.reading() as db:
                create = db.execute("SELECT sql FROM sqlite_master WHERE name = 'lexical'").fetchone()[0]
            self._tokens = Fts5Tokens(create)
        return self._tokens

    def state(self) -> SourceState:
        with self.database.reading() as db:
            values = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'lexical_epoch')"))
        return SourceState(int(values.get("generation", -1)), str(values.get("lexical_epoch", "")))

    def entry_ids(self, after_id: int = 0) -> np.ndarray:
        with self.database.reading() as db:  # FTS5's own row list (one small row per entry)
            return np.fromiter((r for (r,) in db.execute("SELECT id FROM lexical_docsize WHERE id > ?",
                                                         (int(after_id),))), dtype=np.int64)

    def compact(self) -> None:
        if self._tokens is not None:
            self._tokens.compact()

    def entries(self, ids: Sequence[int] | None) -> Iterator[Entries]:
        tokens = self._fts5_tokens()

        def batch(rows: list) -> Entries:
            return Entries([int(r[0]) for r in rows], [(tokens.tokens(t), tokens.tokens(b)) for _, t, b in rows])

        if ids is None:
            last = -(2 ** 63)
            while True:
                with self.database.reading() as db:
                    rows = db.execute("SELECT rowid, title, body FROM lexical WHERE rowid > ? ORDER BY rowid LIMIT ?",
                                      (last, READ_BATCH)).fetchall()
                if not rows:
                    return
                last = rows[-1][0]
                yield batch(rows)
        else:
            for chunk in chunks(sorted(int(i) for i in ids), self.database.chunk):
                where, params = self.database.in_ids("rowid", chunk)
                with self.database.reading() as db:
                    rows = db.execute(f"SELECT rowid, title, body FROM lexical WHERE {where}", params).fetchall()
                yield batch(rows)

    def totals(self) -> tuple[int, int] | None:
        """(rows, tokens of every column) from FTS5's averages record; None when it has none yet."""
        with self.database.reading() as db:
            row = db.execute("SELECT block FROM lexical_data WHERE id = 1").fetchone()
        values = _varints(bytes(row[0])) if row and row[0] else []
        return (values[0], sum(values[1:])) if values else None

    def query_tokens(self, terms: list[str]) -> list[str] | None:
        return self._fts5_tokens().query(terms)

    # -- search ---------------------------------------------------------------------------------------
    @one_line_errors
    def search(self, terms: Sequence[str], limit: int, filters: SearchFilters = NO_FILTERS,
               bm25: BM25 | None = None) -> list[ScoredPassage]:
        bm25 = bm25 or self.bm25
        if not bm25.fts5_compatible:
            raise ValueError("FTS5's bm25() has fixed k1 and b; only the title weight can change")
        expression = fts_expression(terms)
        if expression is None or limit <= 0:
            return []
        found = self._from_memory(terms, limit, filters, bm25)
        if found is not None:
            return found
        params: dict[str, Any] = {"tw": bm25.title_weight, "match": expression, "limit": limit}
        with self.database.reading() as db:
            if not filters.active:
                rows = db.execute("SELECT rowid, -bm25(lexical, :tw, 1.0) AS s FROM lexical WHERE lexical MATCH :match "
                                  "ORDER BY s DESC LIMIT :limit", params).fetchall()
            else:
                where, args = filter_sql(filters)
                rows = db.execute(
                    f"""SELECT l.rowid, -bm25(lexical, :tw, 1.0) AS s FROM lexical l
                        JOIN passages p ON p.id = l.rowid JOIN documents d ON d.id = p.doc_id
                        WHERE lexical MATCH :match AND {where} ORDER BY s DESC LIMIT :limit""",
                    {**params, **args}).fetchall()
        return [ScoredPassage(int(r[0]), float(r[1])) for r in rows]

    def stored_terms(self, conn: sqlite3.Connection, passage_ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in chunks(list(passage_ids), self.database.chunk):
            where, params = self.database.in_ids("rowid", chunk)
            out.update((int(r), body) for r, body in conn.execute(f"SELECT rowid, body FROM lexical WHERE {where}",
                                                                  params))
        return out

    # -- verify ---------------------------------------------------------------------------------------
    def check(self, report: VerifyReport, repair: bool) -> None:
        with self.database.lock:  # the shared connection itself: _problems and rebuild use it
            if self._problems(report) and repair:
                self.rebuild()
                report.repairs.append("lexical index rebuilt from the store")

    def _problems(self, report: VerifyReport) -> bool:
        """Ids first, then content: every lexical row must hold exactly its passage's stemmed terms."""
        db = self.database.conn
        passage_ids = {r[0] for r in db.execute("SELECT id FROM passages")}
        lexical_ids = {r[0] for r in db.execute("SELECT rowid FROM lexical")}
        found = False
        if lexical_ids != passage_ids:
            report.problems.append(
                f"lexical index differs from the store: {len(passage_ids - lexical_ids)} passages missing, "
                f"{len(lexical_ids - passage_ids)} stale entries")
            found = True
        wrong = 0
        title_terms: dict[str, str] = {}
        for title, ptext, ltitle, lbody in db.execute(
                "SELECT d.title, p.text, l.title, l.body FROM passages p JOIN documents d ON d.id = p.doc_id "
                "JOIN lexical l ON l.rowid = p.id"):
            if title not in title_terms:
                title_terms[title] = " ".join(stem(title))
            if ltitle != title_terms[title] or lbody != " ".join(stem(ptext)):
                wrong += 1
        if wrong:
            report.problems.append(f"lexical index differs from the store: {wrong} entries do not hold their "
                                   f"passage's words")
            found = True
        try:  # the full-text index itself against its content (a damaged index b-tree)
            db.execute("INSERT INTO lexical(lexical, rank) VALUES ('integrity-check', 1)")
        except sqlite3.OperationalError as exc:
            if sqlite_result(exc) not in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_BUSY):
                raise
        except sqlite3.DatabaseError as exc:
            report.problems.append(f"lexical index differs from the store: its full-text index is damaged ({exc})")
            found = True
        return found

    def rebuild(self) -> None:
        """Every lexical row recomputed from the passages and their titles, in one transaction (the
        generation moves: searchable content changed)."""
        with self.database.write() as db:
            db.execute("DELETE FROM lexical")
            db.execute("INSERT INTO lexical(lexical) VALUES ('rebuild')")
            # content may change under the same ids: an in-memory copy (any process's) starts again
            db.execute("INSERT INTO meta(key, value) VALUES ('lexical_epoch', ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (uuid.uuid4().hex,))
            title_terms: dict[str, str] = {}
            for pid, title, ptext in db.execute(
                    "SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.doc_id").fetchall():
                if title not in title_terms:
                    title_terms[title] = " ".join(stem(title))
                db.execute("INSERT INTO lexical(rowid, title, body) VALUES (?, ?, ?)",
                           (pid, title_terms[title], " ".join(stem(ptext))))
