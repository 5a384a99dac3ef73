"""The embedding cache in SQLite: a ``WITHOUT ROWID`` table of little-endian float32 blobs."""
from __future__ import annotations

import sqlite3
from contextlib import nullcontext
from typing import Iterable, Sequence

import numpy as np

from ...errors import UserError
from ..base import VECTOR_DTYPE, EmbeddingRow, StorageDamaged, one_line_errors, unit_rows, vector_bytes
from ..rows import chunks, common_size
from .base import Embeddings

DAMAGE_BATCH = 50_000  # vectors checked at a time by damaged(): bounded memory


class SQLiteEmbeddings(Embeddings):
    def put(self, model: str, items: dict[str, np.ndarray], wait: bool = True) -> bool:
        if not items:
            return True
        rows = [(model, h, vector_bytes(v)) for h, v in items.items()]
        try:
            with self.database.lock, (nullcontext() if wait else self.database.no_wait()), \
                    self.database.write(bump=False) as db:
                db.executemany("INSERT OR IGNORE INTO embeddings(model, text_hash, vector) VALUES (?, ?, ?)", rows)
            return True
        except (UserError, StorageDamaged, sqlite3.OperationalError):
            if wait:
                raise
            return False

    def delete(self, model: str, hashes: Iterable[str], keep_used: bool = True) -> int:
        hashes = list(dict.fromkeys(hashes))
        with self.database.lock:
            if keep_used:
                used: set[str] = set()
                for chunk in chunks(hashes, self.database.chunk):
                    marks = ",".join("?" * len(chunk))
                    used.update(r[0] for r in self.database.conn.execute(
                        f"SELECT DISTINCT embed_hash FROM passages WHERE embed_hash IN ({marks})", chunk))
                hashes = [h for h in hashes if h not in used]
            if not hashes:
                return 0
            with self.database.write(bump=False) as db:
                before = db.total_changes
                db.executemany("DELETE FROM embeddings WHERE model = ? AND text_hash = ?", [(model, h) for h in hashes])
                return db.total_changes - before

    def trim(self, model: str, keep: int, recent: Sequence[str] = ()) -> int:
        recent = list(dict.fromkeys(recent))[:500]
        marks = ",".join("?" * len(recent)) or "NULL"
        with self.database.lock:
            count = self.database.conn.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", (model,)).fetchone()[0]
            if count <= keep:
                return 0
            try:
                with self.database.no_wait(), self.database.write(bump=False) as db:
                    # no insertion order in a WITHOUT ROWID table: random
                    cur = db.execute(f"""DELETE FROM embeddings WHERE model = ? AND text_hash IN (
                                           SELECT text_hash FROM embeddings WHERE model = ?
                                           AND text_hash NOT IN ({marks}) ORDER BY random() LIMIT ?)""",
                                     (model, model, *recent, count - keep))
                    return cur.rowcount
            except (UserError, StorageDamaged, sqlite3.OperationalError):
                return 0

    @one_line_errors
    def cached(self, model: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        with self.database.reading() as db:
            for chunk in chunks(list(dict.fromkeys(hashes)), self.database.chunk):
                marks = ",".join("?" * len(chunk))
                for h, blob in db.execute(
                    f"SELECT text_hash, vector FROM embeddings WHERE model = ? AND text_hash IN ({marks})",
                    (model, *chunk),
                ):
                    if len(blob) and len(blob) % VECTOR_DTYPE.itemsize == 0:  # a damaged one is embedded again
                        out[h] = np.frombuffer(blob, dtype=VECTOR_DTYPE).astype(np.float32)
        return out

    @one_line_errors
    def export(self, after: tuple[str, str] = ("", ""), limit: int = 1000) -> list[EmbeddingRow]:
        with self.database.reading() as db:
            rows = db.execute(
                "SELECT model, text_hash, vector FROM embeddings WHERE (model, text_hash) > (?, ?) "
                "ORDER BY model, text_hash LIMIT ?", (after[0], after[1], limit)).fetchall()
        return [EmbeddingRow(m, h, np.frombuffer(v, dtype=VECTOR_DTYPE).astype(np.float32)) for m, h, v in rows]

    def damaged(self, model: str) -> list[str]:
        """Truncated vectors (another size than the rest) and ones that are not finite unit vectors
        (zero-filled, partly overwritten)."""
        with self.database.reading() as db:
            sizes = dict(db.execute("SELECT length(vector), COUNT(*) FROM embeddings WHERE model = ? "
                                    "GROUP BY length(vector)", (model,)).fetchall())
            if not sizes:
                return []
            size = common_size(sizes, VECTOR_DTYPE.itemsize)
            damaged: list[str] = []
            rows = db.execute("""SELECT DISTINCT e.text_hash, e.vector FROM passages p JOIN embeddings e
                                 ON e.model = ? AND e.text_hash = p.embed_hash""", (model,))
            while True:
                batch = rows.fetchmany(DAMAGE_BATCH)
                if not batch:
                    break
                good = []
                for h, blob in batch:
                    if len(blob) != size:
                        damaged.append(h)
                    else:
                        good.append((h, blob))
                if good:
                    vectors = np.frombuffer(b"".join(b for _, b in good), dtype=VECTOR_DTYPE).reshape(len(good), -1)
                    damaged.extend(good[i][0] for i in np.flatnonzero(~unit_rows(vectors)))
        return damaged
