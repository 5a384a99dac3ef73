"""The lexical index in SQLite: an FTS5 table (``lexical``, rowid = passage id) ranked by FTS5's ``bm25()``.

FTS5 computes BM25 with its own k1 and b (``bm25.FTS5``); only the title field's weight is a parameter.
"""
from __future__ import annotations

import sqlite3
from typing import Any, Sequence

from ...text.lexical import terms as stem
from ..base import NO_FILTERS, ScoredPassage, SearchFilters, VerifyReport, one_line_errors, sqlite_result
from ..bm25 import BM25
from ..rows import chunks, filter_sql
from .base import Lexical, LexicalWriter


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
    """FTS5 over the stemmed terms of each passage's title and body."""

    def writer(self, conn: sqlite3.Connection) -> LexicalWriter:
        return SQLiteLexicalWriter(conn)

    @one_line_errors
    def search(self, terms: Sequence[str], limit: int, filters: SearchFilters = NO_FILTERS,
               bm25: BM25 | None = None) -> list[ScoredPassage]:
        bm25 = bm25 or self.bm25
        if not bm25.fts5_compatible:
            raise ValueError("FTS5's bm25() has fixed k1 and b; only the title weight can change")
        expression = fts_expression(terms)
        if expression is None or limit <= 0:
            return []
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
            title_terms: dict[str, str] = {}
            for pid, title, ptext in db.execute(
                    "SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.doc_id").fetchall():
                if title not in title_terms:
                    title_terms[title] = " ".join(stem(title))
                db.execute("INSERT INTO lexical(rowid, title, body) VALUES (?, ?, ?)",
                           (pid, title_terms[title], " ".join(stem(ptext))))
