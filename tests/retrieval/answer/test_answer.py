"""Sentence selection, one hand-made case per rule: a question, a few sentences, the one that must win.

The cases use a tiny deterministic encoder (hashed stemmed words), so each test shows what the rule
itself does; the real model is exercised by the bundled-article test at the end, which lists a question
for each fact of the TASS article and the sentence that must be quoted for it.
"""
from __future__ import annotations

import zlib
from dataclasses import replace

import numpy as np
import pytest

from retrieval.answer import DEFAULT_RULES, NO_ANSWER, Rules, compose
from retrieval.answer.features import leans_on_previous, script
from retrieval.answer.qtype import DATE, NUMBER, PERSON, PLACE, question_type, type_spans
from retrieval.search import Retrieval
from retrieval.text.lexical import terms
from retrieval.types import Hit

DIM = 256


def encode(texts: list[str]) -> np.ndarray:
    """Bag of stemmed words hashed into DIM buckets, L2-normalised: similarity = shared words."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for i, text in enumerate(texts):
        for term in terms(text):
            out[i, zlib.crc32(term.encode()) % DIM] += 1.0
        norm = np.linalg.norm(out[i])
        if norm:
            out[i] /= norm
    return out


def passage(sentences: list[str], passage_id: int = 1, doc_id: int = 1, score: float = 1.0,
            title: str = "Test") -> tuple[Hit, list[tuple[int, int]]]:
    """A hit made of ``sentences`` (document offsets = passage offsets) and its sentence spans."""
    text, spans = "", []
    for s in sentences:
        if text:
            text += " "
        spans.append((len(text), len(text) + len(s)))
        text += s
    return Hit(passage_id, doc_id, score, score, None, text, 0, len(text), title, None, "", ""), spans


class Encoder:
    """compose()'s encoder from a plain function of texts."""

    def __init__(self, fn, words=None) -> None:
        self.sentences = fn
        self.words = words or (lambda words: encode(words))  # a word is its own one-word sentence


def compose_over(question: str, passages, vector: np.ndarray, fn, min_score: float, rules: Rules = DEFAULT_RULES):
    """compose() over hand-made hits (no pages), the question vector and a sentence encoding function."""
    found = Retrieval(question, vector)
    for hit, spans in passages:
        found.add(hit, spans, [])
    return compose(found, Encoder(fn), min_score, rules)


def ask(question: str, passages: list[tuple[Hit, list[tuple[int, int]]]], rules: Rules = DEFAULT_RULES,
        min_score: float = 0.1):
    return compose_over(question, passages, encode([question])[0], encode, min_score, rules)


def first_quote(answer) -> str:
    assert answer.answered, answer.answer
    return answer.sentences[0].text


# -- what the question asks for -------------------------------------------------------------------------
@pytest.mark.parametrize("question, kind", [
    ("When did the museum open?", DATE),
    ("In what year was the treaty signed?", DATE),
    ("Когда был подписан договор?", DATE),
    ("В каком году открылся музей?", DATE),
    ("How many packages of sanctions were adopted?", NUMBER),
    ("How much did the bridge cost?", NUMBER),
    ("Сколько пакетов санкций было принято?", NUMBER),
    ("Who told TASS about the talks?", PERSON),
    ("Кто сообщил ТАСС о переговорах?", PERSON),
    ("Where is military activity increased?", PLACE),
    ("Где находится музей?", PLACE),
    ("Why did the talks stop?", ""),
    ("Почему переговоры прекратились?", ""),
])
def test_question_type_in_english_and_russian(question, kind):
    assert question_type(question) == kind


def test_type_spans_find_dates_numbers_and_names():
    sentence = "In 1956, the Soviet Union and Japan signed 2 declarations on 19 October."
    found = {sentence[s:e] for s, e in type_spans(sentence, DATE)}
    assert "1956" in found and "19 October" in found
    assert "2" in {sentence[s:e] for s, e in type_spans(sentence, NUMBER)}
    assert "1956" not in {sentence[s:e] for s, e in type_spans(sentence, NUMBER)}  # a year is a date
    assert "Soviet Union" in {sentence[s:e] for s, e in type_spans(sentence, PERSON)}
    russian = "Принято более 20 пакетов санкций."
    assert {russian[s:e] for s, e in type_spans(russian, NUMBER)} == {"20"}


def test_script_and_pronoun_detection():
    assert script("Кто сообщил ТАСС?") == "cyr" and script("Who told TASS?") == "lat" and script("2024") == ""
    assert leans_on_previous("He noted that talks had stopped.")
    assert leans_on_previous("Они вели переговоры.")
    assert not leans_on_previous("Rudenko noted that talks had stopped.")


# -- one case per selection rule: without the rule the other sentence wins, with it this one -----------
OFF = Rules(type_weight=0.0, rank_weight=0.0, context_weight=0.0, novelty_weight=0.0, join_pronouns=False,
            extend_to_type=False, passage_weight=0.0, name_penalty=0.0, max_sentences=1, related_weight=0.0,
            antecedent_words=False, document_names=False, loose_names=False, russian_lexical_weight=None, word_bridge_weight=0.0)


def test_the_measured_rules_are_the_defaults():
    """docs/answers.md keeps these; each test below shows one of them deciding a case."""
    assert DEFAULT_RULES.type_weight > 0 and DEFAULT_RULES.novelty_weight > 0
    assert DEFAULT_RULES.extend_to_type and DEFAULT_RULES.join_pronouns
    assert DEFAULT_RULES.passage_weight > 0 and DEFAULT_RULES.name_penalty > 0


def test_expected_type_prefers_the_sentence_with_a_year():
    question = "When did the new museum open?"
    opened = "The new museum finally opened in 1857."
    restated = "The new museum did open after a long debate."
    hits = [passage([restated, opened])]
    assert first_quote(ask(question, hits, OFF)) == restated
    assert first_quote(ask(question, hits, replace(OFF, type_weight=0.2))) == opened


def with_similarities(question: str, passages, sims: dict[str, float], min_score: float = 0.1,
                      rules: Rules = DEFAULT_RULES):
    """compose() with the model replaced by chosen sentence-to-question similarities."""
    q = np.zeros(4, dtype=np.float32)
    q[0] = 1.0

    def encode_fixed(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 4), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i, 0], out[i, 1] = sims[t], np.sqrt(1 - sims[t] ** 2)
        return out

    return compose_over(question, passages, q, encode_fixed, min_score, rules)


def test_novelty_prefers_the_sentence_that_adds_information():
    question = "What did the museum exhibit show?"
    echo = "The museum exhibit was a show."
    informative = "The museum exhibit showed Roman glass, Saxon brooches and Viking coins."
    hits = [passage([echo, informative])]
    sims = {echo: 0.60, informative: 0.55}  # restating the question looks closer to it
    assert first_quote(with_similarities(question, hits, sims, rules=OFF)) == echo
    assert first_quote(with_similarities(question, hits, sims, rules=replace(OFF, novelty_weight=0.2))) == informative


def test_passage_rank_breaks_near_ties_toward_the_better_passage():
    question = "What did the committee decide about the bridge?"
    weak = passage(["The committee decided about the bridge tolls."], passage_id=2, doc_id=2, score=0.3)
    strong = passage(["The committee decided the bridge will be rebuilt."], passage_id=1, doc_id=1, score=1.0)
    sims = {weak[0].text: 0.60, strong[0].text: 0.58}
    assert first_quote(with_similarities(question, [strong, weak], sims, rules=OFF)).endswith("tolls.")
    chosen = first_quote(with_similarities(question, [strong, weak], sims, rules=replace(OFF, rank_weight=0.1)))
    assert chosen.endswith("rebuilt.")


def test_a_typed_question_quotes_the_neighbour_that_holds_the_answer_type():
    question = "How many people attended the final?"
    restated = "The final was attended by a large crowd of people."
    number = "Officials counted 71,088 spectators."
    hits = [passage([restated, number, "Tickets sold out quickly."])]
    sims = {restated: 0.7, number: 0.3, "Tickets sold out quickly.": 0.2}
    assert [s for s, _ in with_similarities(question, hits, sims, rules=OFF).sentences] == [restated]
    answer = with_similarities(question, hits, sims, rules=replace(OFF, extend_to_type=True))
    assert [s for s, _ in answer.sentences] == [restated, number]
    assert answer.answer == f"{restated} {number} [1]"


def test_pronoun_sentence_is_quoted_with_the_sentence_naming_its_subject():
    question = "What did he say about the sanctions?"
    hits = [passage(["Deputy minister Andrey Rudenko spoke to reporters.",
                     "He said the sanctions had made talks impossible."])]
    answer = ask(question, hits, replace(OFF, join_pronouns=True))
    assert [s for s, _ in answer.sentences] == ["Deputy minister Andrey Rudenko spoke to reporters.",
                                                "He said the sanctions had made talks impossible."]
    assert answer.answer == ("Deputy minister Andrey Rudenko spoke to reporters. "
                             "He said the sanctions had made talks impossible. [1]")
    assert answer.citations[0].quotes == [(0, 50), (51, 99)]
    assert [s for s, _ in ask(question, hits, OFF).sentences] == ["He said the sanctions had made talks impossible."]


def test_the_answer_span_is_marked_bold_in_the_answer_and_the_citation():
    question = "How many packages of sanctions were adopted?"
    sentence = "More than 20 packages of sanctions have been adopted."
    answer = ask(question, [passage(["Talks stopped.", sentence])], replace(OFF, bold=True))
    (s, e), = answer.highlights
    assert answer.answer[s:e] == "20"
    (ps, pe), = answer.citations[0].bold
    assert answer.citations[0].passage[ps:pe] == "20"
    assert answer.to_json()["citations"][0]["bold"] == [[ps, pe]]


def test_cross_language_relevance_is_similarity_on_the_same_scale():
    """No word is shared between a Russian question and English news: the gate must not need one."""
    hits = [passage(["Moscow stopped the peace treaty talks."])]
    vector = encode(["Moscow stopped the peace treaty talks."])[0]
    same = lambda texts: np.stack([vector for _ in texts])  # a perfect cross-lingual match  # noqa: E731
    answer = compose_over("Почему Москва прекратила переговоры?", hits, vector, same, 0.5, Rules(cross_shift=0.2))
    assert answer.answered and answer.confidence == pytest.approx(0.8)
    refused = compose_over("Почему Москва прекратила переговоры?", hits, vector, same, 0.85, Rules(cross_shift=0.2))
    assert not refused.answered and refused.answer == NO_ANSWER


def test_nothing_above_the_threshold_is_no_answer_with_weak_matches():
    answer = ask("Who won the chess final?", [passage(["Oil prices rose sharply on Monday."])], min_score=0.3)
    assert not answer.answered and answer.answer == NO_ANSWER and answer.citations


def test_a_question_naming_what_the_passages_never_mention_is_refused():
    question = "When did Tesla open the Berlin laboratory?"
    hits = [passage(["Edison opened the laboratory in 1882."], title="Menlo Park")]
    sims = {hits[0][0].text: 0.55}
    off = with_similarities(question, hits, sims, min_score=0.5, rules=replace(OFF, latin_shift=0.0))
    on = with_similarities(question, hits, sims, min_score=0.5,
                           rules=replace(OFF, latin_shift=0.0, name_penalty=0.1))
    assert off.answered and not on.answered  # neither Tesla nor Berlin is in the passage or its title
    assert on.confidence == pytest.approx(off.confidence - 0.1)


def test_question_words_in_the_passage_and_title_count_toward_the_gate():
    question = "What did the Warsaw council decide?"
    hits = [passage(["It voted to close the old bridge.", "The Warsaw council met on Monday to decide."],
                    title="Warsaw council")]
    sims = {t: 0.4 for t in ("It voted to close the old bridge.", "The Warsaw council met on Monday to decide.")}
    base = with_similarities(question, hits, sims, rules=replace(OFF, latin_shift=0.0))
    credited = with_similarities(question, hits, sims, rules=replace(OFF, latin_shift=0.0, passage_weight=0.1))
    assert credited.confidence == pytest.approx(base.confidence + 0.1)  # all three words are in the passage


def test_each_language_pair_has_its_own_shift():
    hits = [passage(["Москва прекратила переговоры о мирном договоре."])]
    sims = {hits[0][0].text: 0.5}
    question = "Почему Москва прекратила переговоры?"
    plain = with_similarities(question, hits, sims, rules=replace(OFF, russian_shift=0.0))
    shifted = with_similarities(question, hits, sims, rules=replace(OFF, russian_shift=0.06))
    assert shifted.confidence == pytest.approx(plain.confidence - 0.06)
    english = passage(["Moscow stopped the peace treaty talks."])
    cross = with_similarities(question, [english], {english[0].text: 0.5}, rules=replace(OFF, cross_shift=0.02))
    assert cross.confidence == pytest.approx(0.48)  # similarity alone, shifted: no word can be shared


# -- the bundled article: a question for each of its facts, and the sentence that must be quoted -------
TASS_FACTS = [
    ("Who told TASS that the talks cannot resume?",
     "Russian Deputy Foreign Minister Andrey Rudenko told TASS."),
    ("Is it possible to resume the peace treaty talks?",
     "The resumption of talks on the peace treaty with Tokyo is impossible in the current environment"),
    ("How does the diplomat describe relations with Japan?",
     "relations with Japan are currently at an unprecedented low level"),
    ("What is the key condition for normalizing relations?",
     "The key condition for the beginning of the movement toward their normalization is Tokyo’s refusal"),
    ("How many packages of sanctions has Japan adopted?",
     "More than 20 packages of illegitimate sanctions have already been adopted."),
    ("Where is military activity being increased?",
     "Military activity is being increased jointly with the United States and other NATO member states"),
    ("Since when have Russia and Japan been negotiating a peace treaty?",
     "Russia and Japan have been negotiating a peace treaty after World War II since the mid-20th century."),
    ("What happened to the Kuril Islands after World War II?",
     "After the end of World War II, all Kuril Islands were incorporated into the Soviet Union."),
    ("Which islands does Japan claim?",
     "Japan challenged the ownership of Iturup, Kunashir, Shikotan islands"),
    ("When did the Soviet Union and Japan sign a joint declaration?",
     "In 1956, the Soviet Union and Japan signed a joint declaration on ceasing the state of war."),
    ("When did Moscow stop the peace treaty talks?",
     "The Russian foreign ministry said in March 2022 that Moscow was stopping peace treaty talks with Tokyo"),
    ("Why did Moscow stop the peace treaty talks?",
     "after it imposed unilateral sanctions on Russia over the situation in Ukraine"),
    ("Когда СССР и Япония подписали совместную декларацию?",
     "In 1956, the Soviet Union and Japan signed a joint declaration on ceasing the state of war."),
    ("What kind of document were Russia and Japan negotiating?",
     "They were negotiating a modern fundamental and comprehensive document on peace, friendship"),
    ("What is the main stumbling block to a peace treaty?",
     "The main stumbling block to this is the issue of the ownership of the southern Kuril Islands."),
    ("Почему прекратились переговоры?",  # ranked eighth, promoted: it translates both words (word bridge)
     "The Russian foreign ministry said in March 2022 that Moscow was stopping peace treaty talks"),
]
# Facts the answer still misses (docs/answers.md): the sentence stating them is lexically or semantically far
# from the question for the model. Strict: when one starts passing, move it up.
TASS_MISSES = [
    ("Сколько пакетов санкций приняла Япония?",
     "More than 20 packages of illegitimate sanctions have already been adopted."),
]


@pytest.mark.quality
def test_the_bundled_article_answers_a_question_about_each_of_its_facts(seed_corpus):
    missed = []
    for question, sentence in TASS_FACTS:
        answer = seed_corpus.ask(question)
        if not (answer.answered and sentence in answer.answer):
            missed.append((question, answer.answer))
    assert missed == []


@pytest.mark.quality
@pytest.mark.xfail(strict=True, reason="known misses, listed in docs/answers.md")
@pytest.mark.parametrize("question, sentence", TASS_MISSES)
def test_known_misses_on_the_bundled_article(seed_corpus, question, sentence):
    answer = seed_corpus.ask(question)
    assert answer.answered and sentence in answer.answer


def test_ask_embeds_only_the_question_because_sentences_are_embedded_at_ingest(make_corpus):
    from ...conftest import SEED_ARTICLE

    corpus = make_corpus()
    corpus.add_paths([SEED_ARTICLE])
    embedded = list(corpus.embedder.passage_texts)
    answer = corpus.ask("When did the Soviet Union and Japan sign a joint declaration?")
    assert answer.answered
    assert corpus.embedder.passage_texts == embedded  # no sentence reached the model at question time
    assert answer.sentences[0].text in embedded  # it was embedded when the article was added


# -- issue 22's rules: each decides a case a user would see -------------------------------------------
def test_a_pronoun_led_sentence_is_scored_with_the_words_of_its_antecedent():
    """"They were negotiating a document ..." holds none of "Russia", "Japan"; the sentence before does."""
    sentences = ["Russia and Japan met in Moscow on Monday.",
                 "They were negotiating a comprehensive document on friendship.",
                 "Japan and Russia are negotiating car exports."]
    hits = [passage(sentences)]
    sims = dict(zip(sentences, (0.1, 0.3, 0.3)))
    question = "What document were Russia and Japan negotiating?"
    on = with_similarities(question, hits, sims, rules=replace(OFF, antecedent_words=True))
    off = with_similarities(question, hits, sims, rules=OFF)
    assert "car exports" in off.answer  # shares three of the question's words itself
    assert "comprehensive document" in on.answer


def test_russian_words_that_share_a_root_count_as_shared():
    from retrieval.answer.features import overlap, related_terms
    from retrieval.text.lexical import terms

    assert related_terms("япон", "японск") and related_terms("москв", "московск")
    assert related_terms("japan", "japanes")
    assert not related_terms("мир", "мирн")  # too short a root to trust
    q = set(terms("Японии"))
    assert overlap(q, "японский премьер", related=0.0) == 0.0
    assert overlap(q, "японский премьер", related=0.5) == 0.5


def test_names_match_across_scripts_and_misspellings():
    from retrieval.answer.features import missing_share, question_names

    names = question_names("Что сказал Руденко в Токио?")
    assert missing_share(names, "Rudenko spoke in Tokyo on Monday.") == 1.0
    assert missing_share(names, "Rudenko spoke in Tokyo on Monday.", loose=True) == 0.0
    assert missing_share(question_names("What did Rudenkko say?"), "Rudenko said no.", loose=True) == 0.0
    assert missing_share(question_names("What did Smith say?"), "Rudenko said no.", loose=True) == 1.0


def test_a_name_in_another_passage_of_the_same_article_is_not_missing():
    """"the senior diplomat" in the answering passage, "Rudenko" in another passage of the same article."""
    first, spans1 = passage(["Andrey Rudenko spoke to TASS on Thursday."], passage_id=1, doc_id=7)
    second, spans2 = passage(["According to the senior diplomat, relations are at a low level."],
                             passage_id=2, doc_id=7)
    sims = {first.text: 0.2, second.text: 0.5}
    question = "How does Rudenko describe relations?"
    strict = with_similarities(question, [(second, spans2), (first, spans1)], sims, min_score=0.36,
                               rules=replace(OFF, name_penalty=0.2))
    whole = with_similarities(question, [(second, spans2), (first, spans1)], sims, min_score=0.36,
                              rules=replace(OFF, name_penalty=0.2, document_names=True))
    assert not strict.answered
    assert whole.answered and "senior diplomat" in whole.answer


def test_russian_question_forms_get_the_type_of_their_english_twins():
    from retrieval.answer.qtype import question_type

    for question, kind in (("Как долго работал театр?", "number"), ("Из скольких частей состоит?", "number"),
                           ("На какую сумму продали компанию?", "number"),
                           ("В каком столетии построили собор?", "date"),
                           ("При чьём правлении начали войну?", "person"),
                           ("В каком округе находится город?", "place"),
                           ("Почему прекратились переговоры?", "reason"), ("Why did talks stop?", "reason")):
        assert question_type(question, reasons=True, more_forms=True) == kind, question
    assert question_type("Почему прекратились переговоры?") == ""  # only when asked for


# -- across scripts: the word bridge -------------------------------------------------------------------
class WordModel:
    """Word vectors where a word and its listed translation are one vector and every other word is its
    own direction: what a multilingual model gives a translation pair (cosine near 0.8) and unrelated
    words (near 0.3), made exact."""

    def __init__(self, pairs: dict[str, str]) -> None:
        self.pairs = pairs

    def __call__(self, words: list[str]) -> np.ndarray:
        out = np.zeros((len(words), 1024), dtype=np.float32)
        for i, word in enumerate(words):
            out[i, zlib.crc32(self.pairs.get(word, word).encode()) % 1024] = 1.0
        return out


def cross_ask(question: str, passages, sims: dict[str, float], pairs: dict[str, str], rules: Rules,
              min_score: float = 0.3, cite: int | None = None):
    q = np.zeros(4, dtype=np.float32)
    q[0] = 1.0
    encoder = Encoder(lambda texts: np.array([[sims[t], np.sqrt(1 - sims[t] ** 2), 0, 0] for t in texts],
                                             dtype=np.float32))
    encoder.words = WordModel(pairs)
    found = Retrieval(question, q)
    for hit, spans in passages:
        found.add(hit, spans, [])
    return compose(found, encoder, min_score, rules, cite=cite)


NO_BRIDGE = replace(OFF, cross_shift=0.0)
BRIDGE = replace(NO_BRIDGE, word_bridge_weight=0.3, word_bridge_stems=True)
STOPPED = "The ministry said in March 2022 that Moscow was stopping the talks after sanctions."
IMPOSSIBLE = "The resumption of the talks is categorically impossible, he said."


def test_a_cross_script_sentence_that_translates_the_question_words_wins_over_a_closer_one():
    """"Почему прекратились переговоры?": the model puts the "impossible" sentence nearer the question, but
    only the other one says the talks stopped (through its stem: "stopping" -> "stop")."""
    hits = [passage([IMPOSSIBLE, STOPPED])]
    sims = {IMPOSSIBLE: 0.35, STOPPED: 0.25}
    pairs = {"прекратились": "stop", "переговоры": "talks"}
    question = "Почему прекратились переговоры?"
    assert first_quote(cross_ask(question, hits, sims, pairs, NO_BRIDGE)) == IMPOSSIBLE
    assert first_quote(cross_ask(question, hits, sims, pairs, BRIDGE)) == STOPPED
    # without the stem, "stopping" is not "stop": only "talks" is translated, in both sentences
    assert first_quote(cross_ask(question, hits, sims, pairs, replace(BRIDGE, word_bridge_stems=False))) == IMPOSSIBLE


def test_the_word_bridge_lifts_an_answer_over_the_gate_and_leaves_an_untranslated_one_refused():
    hits = [passage([STOPPED])]
    sims = {STOPPED: 0.25}
    question = "Почему прекратились переговоры?"
    assert not cross_ask(question, hits, sims, {"прекратились": "stop", "переговоры": "talks"}, NO_BRIDGE).answered
    assert cross_ask(question, hits, sims, {"прекратились": "stop", "переговоры": "talks"}, BRIDGE).answered
    assert not cross_ask(question, hits, sims, {}, BRIDGE).answered  # no word translates: similarity alone


def test_a_passage_below_the_cut_that_translates_every_question_word_is_cited_and_quoted():
    """"Почему прекратились переговоры?" over one English article: the passage saying the talks stopped is
    ranked eighth by the model; it translates both words of the question, so it takes the third place."""
    others = [passage([f"Sentence number {i} about the weather in Tokyo."], passage_id=i, doc_id=i)
              for i in range(1, 8)]
    stopped = passage([STOPPED], passage_id=8, doc_id=8, score=0.5)
    sims = {h.text: 0.3 for h, _ in others} | {STOPPED: 0.25}
    pairs = {"прекратились": "stop", "переговоры": "talks"}
    question = "Почему прекратились переговоры?"
    rules = replace(BRIDGE, promote_translated=True)
    answer = cross_ask(question, others + [stopped], sims, pairs, rules, cite=3)
    assert first_quote(answer) == STOPPED
    assert sorted(c.passage_id for c in answer.citations) == [1, 2, 8]  # three cited, the eighth among them
    # one question word left untranslated: nothing is promoted, the first three are cited
    partial = cross_ask(question, others + [stopped], sims, {"переговоры": "talks"}, rules, cite=3)
    assert sorted(c.passage_id for c in partial.citations) == [1, 2, 3]
    off = cross_ask(question, others + [stopped], sims, pairs, replace(rules, promote_translated=False), cite=3)
    assert STOPPED not in off.answer and sorted(c.passage_id for c in off.citations) == [1, 2, 3]
