"""The installed console script as a user runs it: a real subprocess, the real model, real exit codes.

The rest of the CLI tests run ``main(argv)`` in the test process (test_cli.py); these few check what
only a separate process shows: the entry point starts, the default model loads from its package and
answers, a user error is one line with exit status 2, and `list` never imports torch.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ...conftest import ROOT, SEED_ARTICLE

TALKS = "Moscow was stopping peace treaty talks with Tokyo"


def citebot(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env.update(CITEBOT_HOME=str(home), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "retrieval.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=300)


@pytest.mark.quality
def test_the_console_script_loads_the_default_model_and_answers(tmp_path, real_embedder):
    """The index is built in this process with the session's real model (the same vectors `citebot add`
    stores); the child process loads the default model from its package to embed the question."""
    from retrieval import Corpus, load_settings

    home = tmp_path / "index"
    with Corpus.open(load_settings(env={}).replace(home=str(home)), embedder=real_embedder) as corpus:
        assert [r.status for r in corpus.add_paths([SEED_ARTICLE])] == ["added"]
    result = citebot(home, "ask", "why did talks stop?", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["answered"] is True and TALKS in data["citations"][0]["passage"]


def test_a_user_error_is_one_line_and_exit_status_2(tmp_path):
    result = citebot(tmp_path / "index", "show", "999")
    assert result.returncode == 2
    assert "no document" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_list_never_loads_the_model(tmp_path):
    code = ("import sys; from retrieval.cli import main; main(['list']); "
            "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH')")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITEBOT_")}
    env["CITEBOT_HOME"] = str(tmp_path / "index")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "NO-TORCH" in result.stdout and "The corpus is empty" in result.stdout
