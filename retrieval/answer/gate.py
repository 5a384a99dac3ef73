"""The answer gate per language pair: when the question and the passage are in different languages
(a Russian question over English news) no word is shared, so the lexical part of relevance is zero and
the same-language threshold refused nearly every such question. Cross-language relevance is the
sentence similarity alone minus ``CROSS_SHIFT``, which puts it on the same-language scale so one
threshold (``min_score``, calibrated per embedder) serves both; the shift is measured on XQuAD ru→en
(bench/answer_quality.py, docs/answers.md).
"""
from __future__ import annotations

CROSS_SHIFT = 0.0
