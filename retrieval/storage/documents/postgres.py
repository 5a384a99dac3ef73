"""Documents and passages in PostgreSQL: one transaction under the writers' advisory lock; documents,
passages and their lexical postings buffered and written with COPY (three per batch instead of two round
trips per document).

Ids are drawn from the identity sequences in growing blocks (1, 2, 4, ... up to 4,096 a round trip), so
``insert_document`` returns its id at once; the ids drawn but not used go back to the sequence before
COMMIT (writers hold the advisory lock, so nobody else draws from it meanwhile): ids stay consecutive, as
with one INSERT per row. The reads are shared with SQLite (``documents/base.py``); a lookup inside the
transaction sees the buffered documents too.
"""
from __future__ import annotations

from collections import deque
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg import sql

from ..base import NewDocument
from ..pgcopy import text_field, text_lines
from ..rows import sentences_json
from .base import Documents, Transaction

FLUSH_POSTINGS = 200_000  # buffered postings written before the transaction ends (bounded memory)
FLUSH_DOCUMENTS = 2_000  # ... and buffered documents (their full text)
MAX_ID_BLOCK = 4_096


class _Ids:
    """Ids of one table drawn from its identity sequence in growing blocks, the unused ones given back."""

    def __init__(self, conn: psycopg.Connection, table: str) -> None:
        self.conn = conn
        self.table = table
        self.sequence: str | None = None
        self.free: deque[int] = deque()
        self.block = 1
        self.last: int | None = None

    def take(self, n: int) -> list[int]:
        if self.sequence is None:
            self.sequence = self.conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (self.table,)).fetchone()[0]
        while len(self.free) < n:
            count = max(n - len(self.free), self.block)
            self.free.extend(int(r[0]) for r in self.conn.execute(
                "SELECT nextval(%s::regclass) FROM generate_series(1, %s)", (self.sequence, count)).fetchall())
            self.block = min(self.block * 2, MAX_ID_BLOCK)
        out = [self.free.popleft() for _ in range(n)]
        if out:
            self.last = out[-1]
        return out

    def give_back(self) -> None:
        """The next id drawn is the one after the last used (only under the writers' lock)."""
        if self.free and self.last is not None:
            self.conn.execute("SELECT setval(%s::regclass, %s)", (self.sequence, self.last))
        self.free.clear()
        self.block = 1


class PostgresTransaction(Transaction):
    def __init__(self, documents: "PostgresDocuments", conn: psycopg.Connection) -> None:
        super().__init__(documents, conn)
        self.lexical = documents.lexical.writer(conn)
        self.explicit_ids = False
        self._documents: list[str] = []
        self._document_columns: list[str] | None = None
        self._by_hash: dict[str, int] = {}
        self._by_path: dict[str, int] = {}
        self._passages: list[str] = []
        self._doc_ids = _Ids(conn, "documents")
        self._passage_ids = _Ids(conn, "passages")

    def find_document(self, *, content_hash: str | None = None, path: str | None = None) -> int | None:
        buffered = self._by_hash.get(content_hash) if content_hash is not None else self._by_path.get(path or "")
        if buffered is not None:
            return buffered
        return super().find_document(content_hash=content_hash, path=path)

    def insert_document(self, doc: NewDocument) -> int:
        columns, values = doc.document_row()
        if doc.doc_id is not None:
            self.explicit_ids = True
            self.flush()
            query = sql.SQL("INSERT INTO documents ({}) VALUES ({}) RETURNING id").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)), sql.SQL(", ").join(sql.Placeholder() * len(columns)))
            doc_id = int(self.conn.execute(query, values).fetchone()[0])
        else:
            columns, values = ["id", *columns], [self._doc_ids.take(1)[0], *values]
            if self._document_columns != columns:
                self._flush_documents()
                self._document_columns = columns
            doc_id = values[0]
            self._documents.append("\t".join(map(text_field, values)) + "\n")
            self._by_hash[doc.content_hash] = doc_id
            if doc.document.path:
                self._by_path[doc.document.path] = doc_id
        if not doc.passages:
            return doc_id
        ids = [p.passage_id for p in doc.passages]
        if any(i is None for i in ids):
            fresh = iter(self._passage_ids.take(sum(i is None for i in ids)))
            ids = [i if i is not None else next(fresh) for i in ids]
        if any(p.passage_id is not None for p in doc.passages):
            self.explicit_ids = True
        for pid, p in zip(ids, doc.passages):
            length = self.lexical.add(pid, doc.title_terms, p.terms)
            self._passages.append(text_lines([(pid, doc_id, p.ordinal, p.start, p.end, p.text, p.embed_hash,
                                               sentences_json(p.sentences), length)]))
        if self.lexical.buffered > FLUSH_POSTINGS or len(self._documents) > FLUSH_DOCUMENTS:
            self.flush()
        return doc_id

    def _flush_documents(self) -> None:
        if self._documents and self._document_columns:
            statement = sql.SQL("COPY documents ({}) FROM STDIN").format(
                sql.SQL(", ").join(map(sql.Identifier, self._document_columns)))
            with self.conn.cursor() as cur, cur.copy(statement) as copy:
                copy.write("".join(self._documents))
        self._documents.clear()
        self._by_hash.clear()
        self._by_path.clear()

    def flush(self) -> None:
        """Write the buffered documents, passages and postings; called before anything in the transaction
        reads them, and before COMMIT."""
        self._flush_documents()
        if self._passages:
            with self.conn.cursor() as cur:
                with cur.copy('COPY passages (id, doc_id, ordinal, start, "end", text, embed_hash, sentences, '
                              'lex_len) FROM STDIN') as copy:
                    copy.write("".join(self._passages))
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
        self._doc_ids.give_back()
        self._passage_ids.give_back()
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
