"""The lexical index in PostgreSQL: a postings table ranked by BM25 computed in SQL with FTS5's formula.

One row per (stemmed term, passage) with its frequency in the title and the body fields and the passage's
token count (``passages.lex_len``), plus corpus totals (``lexical_totals``): all FTS5's BM25 needs, with
the same k1, b, field weights and idf clamp (1e-6), so rankings match the SQLite engine's exactly.
Measured against ``tsvector`` + ``ts_rank`` with the ``simple`` (pre-stemmed terms) and PostgreSQL's own
``english``/``russian`` configurations, it was the only one close to FTS5 (docs/storage.md).
"""
from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from typing import Iterable, Iterator, Sequence

import numpy as np
import psycopg
from psycopg import sql

from ...text.lexical import terms as stem
from ..base import NO_FILTERS, ScoredPassage, SearchFilters, VerifyReport, one_line_errors
from ..bm25 import BM25
from ..pgcopy import text_field
from ..rows import PYFORMAT, filter_sql
from .base import Lexical, LexicalWriter
from .memory import Counted, SourceState

MAX_LEXEME_BYTES = 1000  # longer "words" (btree entries are capped at ~2.7 kB) are never searched for
BATCH = 2000  # passages compared per round trip by check
READ_BATCH = 20_000  # passages read at a time while the in-memory copy is built


def lexemes(terms: Iterable[str]) -> list[str]:
    """The terms a postings row can hold (a too-long "word" is neither indexed nor searched for)."""
    limit = MAX_LEXEME_BYTES // 4  # at most 4 bytes a character: shorter terms need no encoding to check
    return [t for t in terms if t and (len(t) <= limit or len(t.encode("utf-8")) <= MAX_LEXEME_BYTES)]


def lexical_postings(title_terms: Sequence[str], body_terms: Sequence[str]) -> tuple[list[tuple[str, int, int]], int]:
    """((term, frequency in title, frequency in body) per distinct term, token count) of one passage: the
    same two fields, counted the same way, as the SQLite engine's FTS5 row."""
    title, body = lexemes(title_terms), lexemes(body_terms)
    in_title, in_body = Counter(title), Counter(body)
    return ([(t, min(in_title.get(t, 0), 32767), min(in_body.get(t, 0), 32767)) for t in dict.fromkeys(title + body)],
            len(title) + len(body))


def _digest(entries: list[tuple[str, int, int]], length: int) -> str | None:
    """What PostgreSQL's md5(string_agg(...)) over a passage's postings gives when they are right."""
    if not entries:
        return None
    lines = "\n".join(f"{t} {a} {b} {length}" for t, a, b in sorted(entries))
    return hashlib.md5(lines.encode("utf-8")).hexdigest()


class PostgresLexicalWriter(LexicalWriter):
    """Buffers postings for one COPY per batch (text-format lines built as the passages come, the term
    escaped once per distinct term) and keeps the totals' deltas until the transaction ends."""

    def __init__(self, conn: psycopg.Connection) -> None:
        super().__init__(conn)
        self.rows_delta = 0
        self.tokens_delta = 0
        self._postings: list[str] = []
        self._escaped: dict[str, str] = {}

    @property
    def buffered(self) -> int:  # type: ignore[override]
        return len(self._postings)

    def add(self, passage_id: int, title_terms: Sequence[str], terms: Sequence[str]) -> int:
        entries, length = lexical_postings(title_terms, terms)
        self.rows_delta += 1
        self.tokens_delta += length
        escaped = self._escaped
        if len(escaped) > 500_000:
            escaped.clear()
        tail = f"\t{int(passage_id)}\t"
        end = f"\t{length}\n"
        for term, tf_title, tf_body in entries:
            field = escaped.get(term)
            if field is None:
                field = escaped[term] = text_field(term)
            self._postings.append(f"{field}{tail}{tf_title}\t{tf_body}{end}")
        return length

    def flush(self) -> None:
        if not self._postings:
            return
        with self.conn.cursor() as cur:
            with cur.copy("COPY postings (term, passage_id, tf_title, tf_body, len) FROM STDIN") as copy:
                copy.write("".join(self._postings))
        self._postings.clear()

    def remove_document(self, doc_id: int) -> None:
        self.flush()
        row = self.conn.execute("SELECT count(*), COALESCE(sum(lex_len), 0) FROM passages WHERE doc_id = %s",
                                (doc_id,)).fetchone()
        self.rows_delta -= int(row[0])
        self.tokens_delta -= int(row[1])
        self.conn.execute("DELETE FROM postings WHERE passage_id IN (SELECT id FROM passages WHERE doc_id = %s)",
                          (doc_id,))

    def finish(self) -> None:
        self.flush()
        if self.rows_delta or self.tokens_delta:
            self.conn.execute("UPDATE lexical_totals SET rows = rows + %s, tokens = tokens + %s WHERE id = 1",
                              (self.rows_delta, self.tokens_delta))


class PostgresLexical(Lexical):
    """BM25 over the postings table (see the module docstring), or over its in-memory copy."""

    def writer(self, conn: psycopg.Connection) -> LexicalWriter:
        return PostgresLexicalWriter(conn)

    # -- what the in-memory copy is built from (memory.EntrySource) -----------------------------------
    def state(self) -> SourceState:
        with self.database.reading() as conn:
            values = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('generation', 'lexical_epoch')"))
        return SourceState(int(values.get("generation", -1)), str(values.get("lexical_epoch", "")))

    def entry_ids(self, after_id: int = 0) -> np.ndarray:
        with self.database.reading() as conn:  # every passage is a row of the statistics, postings or not
            return np.fromiter((r for (r,) in conn.execute("SELECT id FROM passages WHERE id > %s",
                                                           (int(after_id),))), dtype=np.int64)

    def entries(self, ids: Sequence[int] | None) -> Iterator[Counted]:
        def batch(conn: psycopg.Connection, passages: list) -> Counted:
            at = {int(pid): i for i, (pid, _) in enumerate(passages)}
            lengths = [int(length) for _, length in passages]
            rows, terms, title, body = [], [], [], []
            for pid, term, tf_title, tf_body, length in conn.execute(
                    "SELECT passage_id, term, tf_title, tf_body, len FROM postings WHERE passage_id = ANY(%s)",
                    (list(at),)):
                row = at[pid]
                rows.append(row)
                terms.append(term)
                title.append(tf_title)
                body.append(tf_body)
                lengths[row] = int(length)  # the search ranks by the postings' length (the same, unless damaged)
            return Counted(list(at), lengths, rows, terms, title, body)

        if ids is None:
            last = -(2 ** 63)
            while True:
                with self.database.reading() as conn:
                    passages = conn.execute("SELECT id, lex_len FROM passages WHERE id > %s ORDER BY id LIMIT %s",
                                            (last, READ_BATCH)).fetchall()
                    if not passages:
                        return
                    last = int(passages[-1][0])
                    found = batch(conn, passages)
                yield found
        else:
            for start in range(0, len(ids), READ_BATCH):
                with self.database.reading() as conn:
                    passages = conn.execute("SELECT id, lex_len FROM passages WHERE id = ANY(%s) ORDER BY id",
                                            ([int(i) for i in ids[start:start + READ_BATCH]],)).fetchall()
                    found = batch(conn, passages)
                yield found

    def totals(self) -> tuple[int, int] | None:
        with self.database.reading() as conn:
            row = conn.execute("SELECT rows, tokens FROM lexical_totals WHERE id = 1").fetchone()
        return (int(row[0]), int(row[1])) if row else None

    def query_tokens(self, terms: list[str]) -> list[str] | None:
        return list(dict.fromkeys(lexemes(terms)))

    @one_line_errors
    def search(self, terms: Sequence[str], limit: int, filters: SearchFilters = NO_FILTERS,
               bm25: BM25 | None = None) -> list[ScoredPassage]:
        bm25 = bm25 or self.bm25
        distinct = list(dict.fromkeys(lexemes(terms)))
        if not distinct or limit <= 0:
            return []
        found = self._from_memory(terms, limit, filters, bm25)
        if found is not None:
            return found
        where, args = filter_sql(filters, PYFORMAT)
        # FTS5's bm25(): idf over every passage (the filter only picks among the scored ones), the
        # title field weighted title_weight, the row's length against the average row length.
        join = sql.SQL("JOIN passages p ON p.id = s.id JOIN documents d ON d.id = p.doc_id") if filters.active \
            else sql.SQL("")
        query = sql.SQL("""
WITH tot AS (SELECT GREATEST(rows, 1)::float8 AS n, GREATEST(tokens::float8 / GREATEST(rows, 1), 1e-9) AS avgdl
             FROM lexical_totals WHERE id = 1),
hits AS (SELECT po.passage_id, po.len, %(tw)s * po.tf_title + po.tf_body AS w,
                count(*) OVER (PARTITION BY po.term)::float8 AS df
         FROM postings po WHERE po.term = ANY(%(terms)s)),
s AS (SELECT h.passage_id AS id,
             sum(GREATEST(ln((tot.n - h.df + 0.5) / (h.df + 0.5)), 1e-6) * (h.w * (%(k1)s + 1))
                 / (h.w + %(k1)s * (1 - %(b)s + %(b)s * h.len / tot.avgdl))) AS score
      FROM hits h CROSS JOIN tot GROUP BY h.passage_id)
SELECT s.id, s.score FROM s {join} WHERE {where} ORDER BY s.score DESC, s.id LIMIT %(limit)s""").format(
            join=join, where=sql.SQL(where))
        params = {"terms": distinct, "tw": float(bm25.title_weight), "k1": bm25.k1, "b": bm25.b, "limit": int(limit),
                  **args}
        with self.database.reading() as conn:
            rows = conn.execute(query, params).fetchall()
        return [ScoredPassage(int(pid), float(score)) for pid, score in rows]

    # -- verify ---------------------------------------------------------------------------------------
    def check(self, report: VerifyReport, repair: bool) -> None:
        """Postings by content, in batches of passages: a digest of each passage's postings against the
        digest of what its title and text stem to now; then stray postings and the totals."""
        wrong: dict[int, tuple[list[tuple[str, int, int]], int]] = {}
        after = 0
        pool = self.database.pool
        while True:
            with pool.connection() as conn:
                rows = conn.execute(
                    """SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.doc_id
                       WHERE p.id > %s ORDER BY p.id LIMIT %s""", (after, BATCH)).fetchall()
                if not rows:
                    break
                after = int(rows[-1][0])
                titles: dict[str, list[str]] = {}
                expected: dict[int, tuple[list[tuple[str, int, int]], int]] = {}
                for pid, title, text in rows:
                    expected[int(pid)] = lexical_postings(titles.setdefault(title, stem(title)), stem(text))
                stored = conn.execute(
                    """SELECT p.id, p.lex_len, md5(string_agg(po.term || ' ' || po.tf_title || ' ' || po.tf_body
                                                              || ' ' || po.len, E'\n' ORDER BY po.term COLLATE "C"))
                       FROM passages p LEFT JOIN postings po ON po.passage_id = p.id
                       WHERE p.id = ANY(%s) GROUP BY p.id, p.lex_len""", (list(expected),)).fetchall()
                for pid, lex_len, digest in stored:
                    entries, length = expected[int(pid)]
                    if int(lex_len) != length or digest != _digest(entries, length):
                        wrong[int(pid)] = (entries, length)
        with pool.connection() as conn:
            stray = conn.execute("SELECT count(*) FROM postings po WHERE NOT EXISTS "
                                 "(SELECT 1 FROM passages p WHERE p.id = po.passage_id)").fetchone()[0]
            totals = conn.execute("SELECT rows, tokens FROM lexical_totals WHERE id = 1").fetchone()
            actual = conn.execute("SELECT count(*), COALESCE(sum(lex_len), 0) FROM passages").fetchone()
        stale_totals = totals is None or (int(totals[0]), int(totals[1])) != (int(actual[0]), int(actual[1]))
        if not (wrong or stray or stale_totals):
            return
        if repair:
            self._rewrite(wrong)
            report.repairs.append(f"lexical index rebuilt from the store ({len(wrong)} passages rewritten, "
                                  f"{stray} stray entries dropped)")
            return
        if wrong or stray:
            report.problems.append(f"lexical index differs from the store: {len(wrong)} passages have entries "
                                   f"that do not hold their terms, {stray} entries belong to no passage")
        if stale_totals:
            report.problems.append("lexical statistics (passage and token counts) differ from the store")

    def _rewrite(self, wrong: dict[int, tuple[list[tuple[str, int, int]], int]]) -> None:
        """The wrong passages' postings written again, stray ones dropped, the totals recounted."""
        with self.database.write(lock=True) as conn:
            ids = list(wrong)
            conn.execute("DELETE FROM postings WHERE passage_id = ANY(%s)", (ids,))
            conn.execute("DELETE FROM postings po WHERE NOT EXISTS (SELECT 1 FROM passages p WHERE p.id = po.passage_id)")
            conn.execute("UPDATE passages p SET lex_len = x.len FROM unnest(%s::bigint[], %s::integer[]) AS x(id, len) "
                         "WHERE p.id = x.id", (ids, [wrong[i][1] for i in ids]))
            with conn.cursor() as cur:
                with cur.copy("COPY postings (term, passage_id, tf_title, tf_body, len) FROM STDIN") as copy:
                    for pid, (entries, length) in wrong.items():
                        for term, tf_title, tf_body in entries:
                            copy.write_row((term, pid, tf_title, tf_body, length))
            conn.execute("""INSERT INTO lexical_totals(id, rows, tokens)
                            SELECT 1, count(*), COALESCE(sum(lex_len), 0) FROM passages
                            ON CONFLICT (id) DO UPDATE SET rows = excluded.rows, tokens = excluded.tokens""")
            # content changed under the same ids: an in-memory copy (any process's) starts again
            conn.execute("INSERT INTO meta(key, value) VALUES ('lexical_epoch', %s) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (uuid.uuid4().hex,))
            self.database.bump(conn)
