"""Documents and passages in the SQLite file: inserts and deletes inside one ``BEGIN IMMEDIATE`` transaction.

The reads are shared with PostgreSQL (``documents/base.py``); the lexical entries of each passage are
written by the lexical part's writer on the same connection, in the same transaction.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from ..base import NewDocument
from ..rows import sentences_json
from .base import Documents, Transaction


class SQLiteTransaction(Transaction):
    def __init__(self, documents: "SQLiteDocuments", conn) -> None:
        super().__init__(documents, conn)
        self.lexical = documents.lexical.writer(conn)

    def insert_document(self, doc: NewDocument) -> int:
        db = self.conn
        columns, values = doc.document_row()
        cur = db.execute(f"INSERT INTO documents({', '.join(columns)}) VALUES ({','.join('?' * len(values))})",
                         values)
        doc_id = int(cur.lastrowid)
        for p in doc.passages:
            row = (doc_id, p.ordinal, p.start, p.end, p.text, p.embed_hash, sentences_json(p.sentences))
            if p.passage_id is None:
                pcur = db.execute("INSERT INTO passages(doc_id, ordinal, start, end, text, embed_hash, sentences) "
                                  "VALUES (?,?,?,?,?,?,?)", row)
            else:
                pcur = db.execute("INSERT INTO passages(id, doc_id, ordinal, start, end, text, embed_hash, sentences) "
                                  "VALUES (?,?,?,?,?,?,?,?)", (p.passage_id, *row))
            self.lexical.add(int(pcur.lastrowid), doc.title_terms, p.terms)
        return doc_id

    def delete_document(self, doc_id: int) -> None:
        self.lexical.remove_document(doc_id)
        self.conn.execute("DELETE FROM passages WHERE doc_id = ?", (doc_id,))
        self.conn.execute("DELETE FROM documents WHERE id = ?", (doc_id,))


class SQLiteDocuments(Documents):
    """Documents and passages in ``citebot.sqlite3`` (thread-safe through the database's lock)."""

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self.database.write(bump=True) as conn:
            tx = SQLiteTransaction(self, conn)
            yield tx
            tx.lexical.finish()
