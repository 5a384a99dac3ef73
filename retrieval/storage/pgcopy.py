"""COPY payloads for the PostgreSQL engine's bulk writes, built in bulk rather than row by row.

psycopg's ``copy.write_row`` adapts every value in Python (about 3 µs a row); a bulk load writes tens of
millions of postings rows and a million 512-dimension vectors, so the parts build the payload themselves:
text format lines for rows of text and integers (:func:`text_field`, :func:`text_lines`), and binary
format for vectors (:func:`binary_vector_rows`: pgvector's binary ``vector`` is the big-endian float32
array behind a two-field header, so a whole batch is one numpy conversion instead of a float formatted as
text per dimension). Measured in docs/speed.md ("1M passages").
"""
from __future__ import annotations

import struct
from typing import Iterable, Sequence

import numpy as np

NULL = "\\N"
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
BINARY_TRAILER = struct.pack(">h", -1)


def text_field(value: object) -> str:
    """One value as a COPY text-format field (None is NULL; backslash, tab, newline and CR escaped)."""
    if value is None:
        return NULL
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\\\x" + bytes(value).hex()  # bytea hex input, its backslash escaped for COPY
    s = value if isinstance(value, str) else str(value)
    if "\\" in s:
        s = s.replace("\\", "\\\\")
    if "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def text_lines(rows: Iterable[Sequence[object]]) -> str:
    """Rows as a COPY text-format payload (every field through :func:`text_field`)."""
    return "".join("\t".join(map(text_field, row)) + "\n" for row in rows)


def binary_vector_rows(keys: Sequence[Sequence[str]], vectors: np.ndarray) -> bytes:
    """A COPY binary payload (header and trailer included) of rows ``(*keys[i], vectors[i])``: text
    columns then one pgvector ``vector`` column."""
    vectors = np.ascontiguousarray(vectors, dtype=">f4")
    if vectors.ndim != 2 or len(vectors) != len(keys):
        raise ValueError("one vector per row")
    dim = vectors.shape[1]
    vector_head = struct.pack(">iHH", 4 + 4 * dim, dim, 0)
    out = [BINARY_HEADER]
    for row_keys, vector in zip(keys, vectors):
        parts = [struct.pack(">h", len(row_keys) + 1)]
        for key in row_keys:
            data = key.encode("utf-8")
            parts.append(struct.pack(">i", len(data)))
            parts.append(data)
        parts.append(vector_head)
        parts.append(vector.tobytes())
        out.append(b"".join(parts))
    out.append(BINARY_TRAILER)
    return b"".join(out)
