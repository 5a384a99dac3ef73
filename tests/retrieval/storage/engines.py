"""Test-only access to each engine's raw tables: damage injected on purpose, and child processes that
write and get killed. Product code never does this (no SQL outside retrieval/storage/)."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]


def damage_lexical(store, passage_id: int) -> None:
    """Make one passage's lexical entry hold the wrong terms."""
    if store.engine == "sqlite":
        with sqlite3.connect(store.location) as db:
            db.execute("UPDATE lexical SET body = 'zzzwrong' WHERE rowid = ?", (passage_id,))
    else:
        import psycopg

        with psycopg.connect(store.database.url) as conn:
            conn.execute("DELETE FROM postings WHERE passage_id = %s", (passage_id,))
            conn.execute("INSERT INTO postings VALUES ('zzzwrong', %s, 0, 1, 1)", (passage_id,))


def damage_vector(store, model: str, embed_hash: str) -> None:
    """Overwrite one cached passage vector with zeros (a torn write)."""
    if store.engine == "sqlite":
        with sqlite3.connect(store.location) as db:
            db.execute("UPDATE embeddings SET vector = zeroblob(length(vector)) WHERE model = ? AND text_hash = ?",
                       (model, embed_hash))
    else:
        import psycopg

        with psycopg.connect(store.database.url) as conn:
            conn.execute("UPDATE embeddings SET vector = array_fill(0, ARRAY[vector_dims(vector)])::real[]::vector "
                         "WHERE model = %s AND text_hash = %s", (model, embed_hash))


def put_raw_vector(store, model: str, text_hash: str, vector: np.ndarray) -> None:
    """Store a vector as it is, past the checks of ``embeddings.put`` (a damaged or foreign-sized one)."""
    vector = np.asarray(vector, dtype="<f4").reshape(-1)
    if store.engine == "sqlite":
        with sqlite3.connect(store.location) as db:
            db.execute("INSERT OR REPLACE INTO embeddings(model, text_hash, vector) VALUES (?, ?, ?)",
                       (model, text_hash, vector.tobytes()))
    else:
        import psycopg

        with psycopg.connect(store.database.url) as conn:
            conn.execute("INSERT INTO embeddings(model, text_hash, vector) VALUES (%s, %s, %s::real[]::vector) "
                         "ON CONFLICT (model, text_hash) DO UPDATE SET vector = excluded.vector",
                         (model, text_hash, vector.tolist()))


def child(code: str, env: dict[str, str]) -> subprocess.Popen:
    """A Python child running ``code`` from the repo root, stdout piped (line-buffered)."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
