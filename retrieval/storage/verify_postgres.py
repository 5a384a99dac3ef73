"""`citebot verify` for the PostgreSQL engine: the store's tables and indexes agree, compared by content.

Lexical postings are recomputed from the passages with ``retrieval.text.lexical.terms`` (the one place stemming
happens) and compared by digest with the stored ones, in batches; vectors are
checked for the model's dimension and a non-zero norm; every index must be valid. A repair rewrites
lexical entries and counters, drops damaged vectors (the caller re-embeds ``missing``) and rebuilds
invalid indexes; documents and passages are never changed.
"""
from __future__ import annotations

import hashlib

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from ..text.lexical import terms
from .base import Storage, VerifyReport
from .postgres_schema import index_name, lexical_postings

BATCH = 2000


class PostgresChecks(Storage):
    """The PostgreSQL engine's ``verify``, kept apart from its reads and writes; ``PostgresStorage``
    inherits it and provides the connection pool, the HNSW index type and the error translation."""

    pool: ConnectionPool
    index_type: str

    def verify(self, model: str, repair: bool = False) -> VerifyReport:
        """See :meth:`retrieval.storage.base.Storage.verify`; a server error is reported, not raised."""
        report = VerifyReport()
        try:
            _check(self, model, repair, report)
        except (psycopg.Error, PoolTimeout) as exc:
            mapped = self._errors.translate(exc)
            report.problems.append(str(mapped) if mapped is not None else
                                   f"PostgreSQL check failed: {str(exc).strip().splitlines()[0]}")
            report.summary = f"the store {self.location} could not be checked"
            return report
        counts = self.counts()
        report.summary = (f"{counts.documents} documents, {counts.passages} passages, "
                          f"{self.vector_index_size(model)} dense vectors, generation {self.generation()}")
        return report


def _check(storage: "PostgresChecks", model: str, repair: bool, report: VerifyReport) -> None:
    with storage.pool.connection() as conn:
        invalid = conn.execute(
            """SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
               WHERE i.indrelid IN ('documents'::regclass, 'passages'::regclass, 'embeddings'::regclass)
                 AND NOT (i.indisvalid AND i.indisready)""").fetchall()
        for (name,) in invalid:
            if repair:
                conn.execute(sql.SQL("REINDEX INDEX {}").format(sql.Identifier(name)))
                report.repairs.append(f"index {name} rebuilt")
            else:
                report.problems.append(f"index {name} is invalid (an interrupted build?)")
        empty = conn.execute("SELECT count(*) FROM documents d WHERE NOT EXISTS "
                             "(SELECT 1 FROM passages p WHERE p.doc_id = d.id)").fetchone()[0]
        if empty:
            report.problems.append(f"{empty} documents have no passages")
        orphans = conn.execute("SELECT count(*) FROM passages p WHERE NOT EXISTS "
                               "(SELECT 1 FROM documents d WHERE d.id = p.doc_id)").fetchone()[0]
        if orphans:
            report.problems.append(f"{orphans} passages belong to no document")

    # Lexical postings, by content, in batches of passages: a digest of each passage's postings against
    # the digest of what its title and text stem to now.
    wrong: dict[int, tuple[list[tuple[str, int, int]], int]] = {}
    after = 0
    while True:
        with storage.pool.connection() as conn:
            rows = conn.execute(
                """SELECT p.id, d.title, p.text FROM passages p JOIN documents d ON d.id = p.doc_id
                   WHERE p.id > %s ORDER BY p.id LIMIT %s""", (after, BATCH)).fetchall()
            if not rows:
                break
            after = int(rows[-1][0])
            titles: dict[str, list[str]] = {}
            expected: dict[int, tuple[list[tuple[str, int, int]], int]] = {}
            for pid, title, text in rows:
                expected[int(pid)] = lexical_postings(titles.setdefault(title, terms(title)), terms(text))
            stored = conn.execute(
                """SELECT p.id, p.lex_len, md5(string_agg(po.term || ' ' || po.tf_title || ' ' || po.tf_body || ' ' || po.len,
                                                   E'\n' ORDER BY po.term COLLATE "C"))
                   FROM passages p LEFT JOIN postings po ON po.passage_id = p.id
                   WHERE p.id = ANY(%s) GROUP BY p.id, p.lex_len""", (list(expected),)).fetchall()
            for pid, lex_len, digest in stored:
                entries, length = expected[int(pid)]
                if int(lex_len) != length or digest != _digest(entries, length):
                    wrong[int(pid)] = (entries, length)
    with storage.pool.connection() as conn:
        stray = conn.execute("SELECT count(*) FROM postings po WHERE NOT EXISTS "
                             "(SELECT 1 FROM passages p WHERE p.id = po.passage_id)").fetchone()[0]
        totals = conn.execute("SELECT rows, tokens FROM lexical_totals WHERE id = 1").fetchone()
        actual = conn.execute("SELECT count(*), COALESCE(sum(lex_len), 0) FROM passages").fetchone()
    stale_totals = totals is None or (int(totals[0]), int(totals[1])) != (int(actual[0]), int(actual[1]))
    if wrong or stray or stale_totals:
        if repair:
            with storage._write(lock=True) as conn:
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
                conn.execute("UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'")
            report.repairs.append(f"lexical index rebuilt from the store ({len(wrong)} passages rewritten, "
                                  f"{stray} stray entries dropped)")
        else:
            if wrong or stray:
                report.problems.append(f"lexical index differs from the store: {len(wrong)} passages have entries "
                                       f"that do not hold their terms, {stray} entries belong to no passage")
            if stale_totals:
                report.problems.append("lexical statistics (passage and token counts) differ from the store")

    # Vectors of the checked model.
    with storage.pool.connection() as conn:
        row = conn.execute("SELECT dim FROM vector_models WHERE model = %s", (model,)).fetchone()
        damaged: list[str] = []
        if row is not None:
            dim, name = int(row[0]), index_name(model, storage.index_type)
            damaged = [h for (h,) in conn.execute(
                """SELECT DISTINCT e.text_hash FROM embeddings e JOIN passages p ON p.embed_hash = e.text_hash
                   WHERE e.model = %s AND (vector_dims(e.vector) <> %s OR NOT vector_norm(e.vector) > 0
                                           OR vector_norm(e.vector) = 'Infinity'::float8)""", (model, dim))]
            exists = conn.execute("SELECT 1 FROM pg_class WHERE relname = %s AND relkind = 'i'",
                                  (name,)).fetchone()
    if damaged:
        if repair:
            storage.delete_embeddings(model, damaged, keep_used=False)
            report.repairs.append(f"dropped {len(damaged)} damaged vectors (to be embedded again)")
        else:
            report.problems.append(f"{len(damaged)} passage vectors for model {model} are damaged "
                                   f"(wrong size or zero)")
    if row is not None and not exists:  # derived and created lazily (first search or sync): build it now
        storage._indexed.discard(model)
        storage._ensure_index(model)
        if repair:
            report.repairs.append(f"vector index for model {model} built")
    report.missing = storage.missing_embeddings(model)
    if report.missing and not repair:
        report.problems.append(f"{len(report.missing)} passage texts have no embedding for model {model}")


def _digest(entries: list[tuple[str, int, int]], length: int) -> str | None:
    """What PostgreSQL's md5(string_agg(...)) over a passage's postings gives when they are right."""
    if not entries:
        return None
    lines = "\n".join(f"{t} {a} {b} {length}" for t, a, b in sorted(entries))
    return hashlib.md5(lines.encode("utf-8")).hexdigest()
