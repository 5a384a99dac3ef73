"""Sentence-by-sentence verification of generated answers, with the real embedding model."""
from __future__ import annotations

import pytest

from retrieval.generate.verify import split_claims, verify
from retrieval.types import Citation

P1 = ("The Russian foreign ministry said in March 2022 that Moscow was stopping peace treaty talks with Tokyo "
      "after it imposed unilateral sanctions on Russia over the situation in Ukraine.")
P2 = ("In 1956, the Soviet Union and Japan signed a joint declaration on ceasing the state of war. The two "
      "countries resumed diplomatic and other relations, however no peace treaty has been signed until now.")


def cite(n: int, passage: str) -> Citation:
    return Citation(n=n, doc_id=n, passage_id=n, title="Russia rules out peace talks", date="2024-02-07",
                    source="TASS", url="", passage=passage, score=0.5)


CITATIONS = [cite(1, P1), cite(2, P2)]


@pytest.fixture
def check(embedder):
    def run(output: str, min_support: float = 0.5):
        return verify(output, CITATIONS, embedder.encode_passages, min_support)
    return run


def test_claims_are_split_with_their_citations():
    claims = split_claims("Answer: Talks stopped in March 2022 [1]. In 1956 a declaration was signed. [2] "
                          "Both facts matter [1, 2]")
    assert [(c.text, c.citations) for c in claims] == [
        ("Talks stopped in March 2022.", [1]), ("In 1956 a declaration was signed.", [2]),
        ("Both facts matter", [1, 2])]


def test_a_faithful_paraphrase_is_kept_with_its_quote(check):
    result = check("Moscow stopped the peace treaty talks with Tokyo in March 2022 because of sanctions [1].")
    assert [v.kept for v in result.verdicts] == [True]
    verdict = result.verdicts[0]
    assert verdict.quote == P1 and verdict.quote_n == 1 and verdict.support >= 0.5


@pytest.mark.parametrize("sentence, reason", [
    ("Moscow stopped the peace treaty talks with Tokyo in March 2023 [1].", "date"),
    ("Moscow stopped the peace treaty talks with Tokyo after 45 sanctions [1].", "number"),
    ("Moscow stopped the peace treaty talks with Seoul in March 2022 [1].", "name"),
    ("Moscow stopped the peace treaty talks with Tokyo in March 2022 [3].", "cites unshown [3]"),
    ("Moscow stopped the peace treaty talks with Tokyo in March 2022.", "no citation"),
    ("In 1956, the Soviet Union and Japan signed a joint declaration [1].", "number"),  # true, but not in [1]
    ("The weather in the region was cold and rainy during the whole winter [1].", "support"),
])
def test_unsupported_sentences_are_dropped(check, sentence, reason):
    supported = "In 1956, the Soviet Union and Japan signed a joint declaration on ceasing the state of war [2]."
    result = check(f"{supported} {sentence}")
    assert [v.kept for v in result.verdicts] == [True, False], [v.reason for v in result.verdicts]
    assert reason in result.verdicts[1].reason
    assert result.dropped == 1


def test_a_claim_citing_two_passages_may_use_both(check):
    result = check("Japan and the Soviet Union signed a declaration in 1956, and in March 2022 Moscow stopped "
                   "the peace treaty talks [1][2].")
    assert result.verdicts[0].kept, result.verdicts[0].reason


def test_a_refusal_is_recognised(check):
    assert check("NO ANSWER").refused
    assert check("I don't know based on these passages.").refused
    assert not check("").verdicts
