"""The pipe between an adding process and an embedding worker: length-prefixed pickles, and the worker's loop.

Both kinds of worker (``forked``: a child of the adding process sharing its loaded model; ``worker``: a
``python -m retrieval.embed.worker`` process building its own) speak this protocol and run ``serve``, so
they behave the same once their model is there. Kept apart from ``pool`` so that neither kind imports the
pool (no import cycle) and a spawned worker imports nothing of the library but what the model needs.
"""
from __future__ import annotations

import pickle
import struct
from typing import IO, Any

from .base import Embedder

_HEADER = struct.Struct("<Q")


def send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError("the other side closed the pipe")
    size = _HEADER.unpack(head)[0]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the other side closed the pipe")
    return pickle.loads(data)


def serve(model: Embedder, requests: IO[bytes], answers: IO[bytes]) -> None:
    """Embed each list of texts read from ``requests`` and write ``("ok", vectors)`` (or ``("error",
    message)``: the adding process embeds those texts itself) to ``answers``, until ``requests`` closes
    or the adding process stops reading."""
    while True:
        try:
            texts = receive(requests)
        except EOFError:
            return
        try:
            answer: tuple[str, Any] = ("ok", model.encode_passages(texts))
        except Exception as exc:  # reported to the adding process, which embeds these texts itself
            answer = ("error", f"{type(exc).__name__}: {exc}")
        try:
            send(answers, answer)
        except OSError:  # the adding process is gone
            return
