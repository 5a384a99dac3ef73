"""Markup stripped from questions: what is markup goes, what merely looks like it stays."""
from __future__ import annotations

import pytest

from retrieval.text.questions import strip_markup


@pytest.mark.parametrize("raw, clean", [
    ("<b>Why</b> did the <i>talks</i> stop?", "Why did the talks stop?"),
    ("**why** did __talks__ _stop_?", "why did talks stop?"),
    ("<p><strong>When</strong> did <a href='x'>Moscow</a> stop?</p>", "When did Moscow stop?"),
    ("what is `faiss` and ~~old~~ [txtai](https://x.org)?", "what is faiss and old txtai?"),
    ("is a < b and b > c?", "is a < b and b > c?"),
    ("what does snake_case_name mean?", "what does snake_case_name mean?"),
    ("2 * 3 * 4 = ?", "2 * 3 * 4 = ?"),
    ("<y and y>", "<y and y>"),
])
def test_strip_markup(raw, clean):
    assert strip_markup(raw) == clean


def test_a_marked_up_question_is_answered_like_the_plain_one(seed_corpus):
    assert seed_corpus.ask("<b>Why</b> did the <i>talks</i> stop?").answer == seed_corpus.ask("Why did the talks stop?").answer
