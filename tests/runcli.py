"""Run `citebot` in the test process: ``main(argv)`` with its own stdin, stdout, stderr and environment.

Starting a Python process per command cost about a second each (imports, and the real model when the
command embeds); the CLI's behaviour (exit codes, what goes to stdout and stderr) does not depend on being
a separate process, so most CLI tests run it here, with the deterministic hash embedder. A handful of
smoke tests still start the real console script as a subprocess (tests/retrieval/cli/test_smoke.py).
"""
from __future__ import annotations

import io
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from unittest import mock

from tests.fakes.hash_embedder import HashEmbedder


@dataclass
class Run:
    """What one command did, shaped like subprocess.CompletedProcess."""

    returncode: int
    stdout: str
    stderr: str


def _stdin(text: str) -> io.TextIOWrapper:
    """stdin as when piped: not a terminal, text over a byte ``buffer`` (`ask --batch -` reads the bytes)."""
    return io.TextIOWrapper(io.BytesIO(text.encode("utf-8")), encoding="utf-8")


@contextmanager
def hash_model(embedder: Any | None = None) -> Iterator[Any]:
    """Every Corpus opened without an explicit embedder (as the CLI opens them) gets ``embedder``."""
    model = embedder if embedder is not None else HashEmbedder()
    with mock.patch("retrieval.corpus.core.make_embedder", lambda settings: model):
        yield model


def run(home: Path | None, *args: str, stdin: str = "", env: dict[str, str] | None = None,
        embedder: Any | None = None) -> Run:
    """``citebot ARGS`` with CITEBOT_HOME=home (and ``env``), in this process; corpora it opened are closed."""
    from retrieval.cli import commands, main

    environ = dict(os.environ)  # as a child process would inherit it (tests set CITEBOT_* with monkeypatch)
    if home is not None:
        environ["CITEBOT_HOME"] = str(home)
    environ.update(env or {})
    opened: list[Any] = []
    real_open = commands.open_corpus

    def tracked_open(parsed: Any) -> Any:
        corpus = real_open(parsed)
        opened.append(corpus)
        return corpus

    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, environ, clear=True), hash_model(embedder), \
            mock.patch.object(commands, "open_corpus", tracked_open), \
            mock.patch.object(sys, "stdin", _stdin(stdin)), mock.patch.object(sys, "stdout", out), \
            mock.patch.object(sys, "stderr", err):
        try:
            code = main(list(args))
        except SystemExit as exc:  # --help and argparse's own exits
            code = exc.code if isinstance(exc.code, int) else 0
        finally:
            for corpus in opened:
                try:
                    corpus.close()
                except Exception:
                    pass
    return Run(code, out.getvalue(), err.getvalue())
