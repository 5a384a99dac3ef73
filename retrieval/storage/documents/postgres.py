"""Documents and passages in PostgreSQL: one transaction under the writers' advisory lock, passages and
their lexical postings buffered and written with COPY (two per batch instead of two per document).

The reads are shared with SQLite (``documents/base.py``).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg import sql

from ..base import NewDocument
from ..rows import sentences_json
from .base import Documents, Transaction

FLUSH_POSTINGS = 200_000  # buffered postings written before the transaction ends (bounded memory)


class PostgresTransaction(Transaction):
    def __init__(self, documents: "PostgresDocuments", conn: psycopg.Connection) -> None:
        super().__init__(documents, conn)
        self.lexical = documents.lexical.writer(conn)
        self.explicit_ids = False
        self._passages: list[tuple] = []

    def insert_document(self, doc: NewDocument) -> int:
        conn = self.conn
        columns, values = doc.document_row()
        if doc.doc_id is not None:
            self.explicit_ids = True
        query = sql.SQL("INSERT INTO documents ({}) VALUES ({}) RETURNING id").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns)))
        doc_id = int(conn.execute(query, values).fetchone()[0])
        if not doc.passages:
            return doc_id
        ids = [p.passage_id for p in doc.passages]
        if any(i is None for i in ids):
            fresh = iter(r[0] for r in conn.execute(
                "SELECT nextval(pg_get_serial_sequence('passages', 'id')) FROM generate_series(1, %s)",
                (sum(i is None for i in ids),)).fetchall())
            ids = [i if i is not None else next(fresh) for i in ids]
        if any(p.passage_id is not None for p in doc.passages):
            self.explicit_ids = True
        for pid, p in zip(ids, doc.passages):
            length = self.lexical.add(pid, doc.title_terms, p.terms)
            self._passages.append((pid, doc_id, p.ordinal, p.start, p.end, p.text, p.embed_hash,
                                   sentences_json(p.sentences), length))
        if self.lexical.buffered > FLUSH_POSTINGS:
            self.flush()
        return doc_id

    def flush(self) -> None:
        """Write the buffered passages and postings; called before anything in the transaction reads
        them, and before COMMIT."""
        if self._passages:
            with self.conn.cursor() as cur:
                with cur.copy('COPY passages (id, doc_id, ordinal, start, "end", text, embed_hash, sentences, '
                              'lex_len) FROM STDIN') as copy:
                    for row in self._passages:
                        copy.write_row(row)
            self._passages.clear()
        self.lexical.flush()

    def delete_document(self, doc_id: int) -> None:
        self.flush()
        self.lexical.remove_document(doc_id)
        self.conn.execute("DELETE FROM passages WHERE doc_id = %s", (doc_id,))
        self.conn.execute("DELETE FROM documents WHERE id = %s", (doc_id,))

    def finish(self) -> None:
        """Buffered rows, lexical counters and sequences, in the same transaction just before COMMIT."""
        self.flush()
        self.lexical.finish()
        conn = self.conn
        if self.explicit_ids:  # copied ids: the identity sequences must move past them (never reuse an id)
            for table in ("documents", "passages"):
                conn.execute(sql.SQL(
                    "SELECT setval(pg_get_serial_sequence({t}, 'id'), GREATEST((SELECT COALESCE(max(id), 1) FROM {i}), "
                    "(SELECT last_value FROM {s})))").format(
                    t=sql.Literal(table), i=sql.Identifier(table),
                    s=sql.SQL(conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (table,)).fetchone()[0])))
        self.documents.database.bump(conn)


class PostgresDocuments(Documents):
    """Documents and passages in PostgreSQL tables (thread-safe: the database's pool)."""

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self.database.write(lock=True) as conn:
            tx = PostgresTransaction(self, conn)
            yield tx
            tx.finish()
