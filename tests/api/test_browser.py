"""Acceptance 3 (slow, `make test-all`): the page in Debian's headless Chromium (installed by `make chromium`)
answers the seed question — through its JavaScript (``/#ask=``, POST /v1/ask, the DOM built from the JSON)
and as the server renders it for browsers without JavaScript (``/?q=``) — and a screenshot of the answer is taken."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.quality]

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars")


def chromium(url: str, tmp_path: Path, *args: str) -> str:
    binary = shutil.which("chromium")
    assert binary, "chromium is not installed: run `make chromium` (Debian's package)"
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    done = subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000", *args, url],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_page_answers_the_seed_question_in_chromium(served_corpus, tmp_path):
    dom = chromium(served_corpus.url + "/#ask=why%20did%20talks%20stop%3F", tmp_path, "--dump-dom")
    assert '<section class="turn">' in dom, dom[-2000:]
    assert '<h2 class="question">why did talks stop?</h2>' in dom
    assert "in March 2022 that Moscow was stopping peace treaty talks" in dom
    assert "<mark>" in dom and "2024-02-07 · TASS" in dom
    server_rendered = chromium(served_corpus.url + "/?q=why+did+talks+stop%3F", tmp_path, "--dump-dom")
    assert "in March 2022 that Moscow was stopping peace treaty talks" in server_rendered
    shot = tmp_path / "answer.png"
    chromium(served_corpus.url + "/#ask=why%20did%20talks%20stop%3F", tmp_path, f"--screenshot={shot}",
             "--window-size=1000,1400")
    assert shot.exists() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
