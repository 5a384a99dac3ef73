"""Fixtures of the generative-answer tests: a fake OpenAI-compatible server on 127.0.0.1, and the bundled
article in a corpus that asks it."""
from __future__ import annotations

import pytest

from tests.conftest import SEED_ARTICLE
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def llm():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def corpus_with(make_corpus, tmp_path):
    """``corpus_with(server, **settings)``: the seed article in a corpus that asks ``server``."""
    home = tmp_path / "index"
    make_corpus(home=home).add_paths([SEED_ARTICLE])

    def factory(server: FakeOpenAI | None, **overrides):
        if server is not None:
            overrides = {"llm_url": server.url, "llm_timeout": 5.0, **overrides}
        return make_corpus(home=home, **overrides)
    return factory
