"""Candidate answer sentences and what is measured on each: similarity, shared words, novelty,
expected-type matches, and whether it leans on the previous sentence (a leading pronoun).

Kept apart from the selection itself so each rule can be tested on a handful of hand-made sentences.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from ..text.lexical import terms
from ..text.scripts import script
from ..types import Hit
from .qtype import type_spans

_FIRST_WORD = re.compile(r"[\"'«“(]*(\w+)")
PRONOUNS = frozenset(
    "he she it they his her its their this these those such there "
    "он она оно они его её ее их этот эта это эти этого этой этих там тогда".split()
)


@dataclass
class Candidate:
    """One sentence of a ranked passage; offsets are inside the passage text."""

    hit_index: int
    position: int  # index among the passage's sentences (neighbours are position +/- 1)
    start: int
    end: int
    text: str
    cross: bool = False  # the question and the passage are in different scripts (ru question, en news)
    sim: float = 0.0
    overlap: float = 0.0
    novelty: float = 0.0
    type_spans: list[tuple[int, int]] = field(default_factory=list)
    relevance: float = 0.0  # what the gate compares with the threshold
    score: float = 0.0  # what the selection ranks by
    duplicate: bool = False  # already a sentence of a better-ranked passage (kept only as a neighbour)


def candidates(hits: list[Hit], sentence_spans: list[list[tuple[int, int]]], question: str) -> list[Candidate]:
    """Every sentence of every hit, in passage order. A sentence also present in a better-ranked passage
    is marked ``duplicate`` (it is scored there) but kept so its neighbours can see it."""
    q_script = script(question)
    seen: set[tuple[int, int, int]] = set()
    out: list[Candidate] = []
    for i, (hit, spans) in enumerate(zip(hits, sentence_spans)):
        cross = bool(q_script) and script(hit.text) not in ("", q_script)
        position = 0
        for s, e in spans:
            if not (hit.start <= s and e <= hit.end):
                continue
            key = (hit.doc_id, s, e)
            rel_s, rel_e = s - hit.start, e - hit.start
            out.append(Candidate(i, position, rel_s, rel_e, hit.text[rel_s:rel_e], cross, duplicate=key in seen))
            seen.add(key)
            position += 1
    return out


@functools.lru_cache(maxsize=32768)
def term_set(text: str) -> frozenset[str]:
    """The stemmed terms of a sentence, cached: the same sentences come back question after question."""
    return frozenset(terms(text))


def overlap(question_terms: set[str], text: str, related: float = 0.0) -> float:
    """Share of the question's content terms the sentence contains. With ``related`` > 0 a question term
    that only shares its root with a sentence term (:func:`related_terms`: Japan / Japanese, Япония /
    японский, Москва / московский, that Snowball stems apart) counts that much instead of nothing."""
    if not question_terms:
        return 0.0
    own = term_set(text)
    exact = question_terms & own
    score = float(len(exact))
    if related:
        score += related * sum(1 for q in question_terms - exact if any(related_terms(q, t) for t in own))
    return score / len(question_terms)


@functools.lru_cache(maxsize=200_000)
def related_terms(a: str, b: str) -> bool:
    """Two stems of one script that share their root: a common prefix of at least 4 letters that covers
    all but at most one letter of the shorter stem (japan/japanes, япон/японск, москв/московск,
    росс/российск). Derivation, not inflection: Snowball already folds inflections."""
    if a == b:
        return True
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    if len(short) < 4 or not short.isalpha() or script_of(short) != script_of(long_):
        return False
    common = 0
    for x, y in zip(short, long_):
        if x != y:
            break
        common += 1
    return common >= 4 and common >= len(short) - 1


def novelty(question_terms: set[str], text: str) -> float:
    """Share of the sentence's terms the question does not already contain (what it would add)."""
    own = term_set(text)
    if not own:
        return 0.0
    return len(own - question_terms) / len(own)


def novel_type_spans(text: str, kind: str, question_terms: set[str], cross: bool) -> list[tuple[int, int]]:
    """Spans of the expected type that the question does not already name (same language only: across
    languages the question's words cannot be compared)."""
    if not kind:
        return []
    spans = type_spans(text, kind)
    if cross or not question_terms:
        return spans
    return [(s, e) for s, e in spans if not term_set(text[s:e]) <= question_terms]


def leans_on_previous(text: str) -> bool:
    """True when the sentence opens with a pronoun, so its subject is named in the sentence before."""
    m = _FIRST_WORD.match(text)
    return bool(m) and m.group(1).lower() in PRONOUNS


_ANAPHOR = re.compile(r"\b(?:to|of|for|on|by|with|from|in|about) (?:this|that|these|those|it|them)\b"
                     r"|\b(?:к|о|об|для|на|из-за|по|с|в) (?:этому|этом|этого|этим|этой|нему|ней|них|ним)\b", re.IGNORECASE)


def refers_back(text: str) -> bool:
    """True when the sentence opens with a pronoun or points back with one ("the stumbling block to
    this", "из-за этого"): its subject is named in the sentence before."""
    return leans_on_previous(text) or bool(_ANAPHOR.search(text))


_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-ZА-ЯЁ][\w'’-]+")


def question_names(question: str) -> set[str]:
    """Stemmed terms of the capitalised words of a question other than its first word (names, places)."""
    return {t for m in _NAME.finditer(question.strip()) for t in terms(m.group())}


def missing_share(names: set[str], text: str, loose: bool = False) -> float:
    """Share of ``names`` that ``text`` does not contain (0 when the question names nothing). With
    ``loose`` a name also counts as present when the text holds it in the other script (Токио / Tokyo)
    or misspelt by a letter or two (:func:`same_name`)."""
    if not names:
        return 0.0
    own = term_set(text)
    missing = names - own
    if loose and missing:
        missing = {n for n in missing if not any(same_name(n, t) for t in own)}
    return len(missing) / len(names)


def bridge_terms(question: str) -> set[str]:
    """What a question can share with text in another script: its names (compared after transliteration,
    :func:`same_name`) and its numbers."""
    numbers = {t for t in terms(question) if any(ch.isdigit() for ch in t)}
    return question_names(question) | numbers


def bridge_share(bridge: set[str], text: str) -> float:
    """Share of ``bridge`` terms found in ``text`` in either script (0 when the question has none)."""
    if not bridge:
        return 0.0
    own = term_set(text)
    return sum(1 for b in bridge if b in own or any(same_name(b, t) for t in own)) / len(bridge)


_WORD = re.compile(r"[^\W\d_]{3,}")


def content_words(text: str) -> list[str]:
    """The distinct words of ``text`` a translation can match (3+ letters, lower-cased, stop words out),
    unstemmed: the word bridge embeds them, and a model knows words, not Snowball stems."""
    from ..text.lexical import STOPWORDS

    words = (w for w in _WORD.findall(text.lower().replace("ё", "е")) if w not in STOPWORDS)
    return list(dict.fromkeys(words))


def with_stems(words: list[str]) -> list[str]:
    """``words`` followed by their Snowball stems that are new and still 3+ letters: a translation meets an
    inflected word more surely through its bare form ("stopping" -> "stop")."""
    from ..text.lexical import stem

    stems = [s for s in (stem(w) for w in words) if len(s) >= 3]
    return list(dict.fromkeys(words + stems))


def bridged_shares(question_vectors: "np.ndarray", sentence_words: list[list[str]], word_index: dict[str, int],
                   word_vectors: "np.ndarray", threshold: float) -> list[float]:
    """Per sentence, the share of the question's words that some word of the sentence translates: their
    cosine (one multilingual model embeds both words) at least ``threshold``. "прекратились" meets
    "stopped" at 0.79 and "переговоры" meets "negotiations" at 0.88 with USE multilingual, while unrelated
    word pairs stay under 0.6: the shared words a cross-script question otherwise cannot have."""
    import numpy as np

    if not len(question_vectors) or not word_index:
        return [0.0] * len(sentence_words)
    matched = (word_vectors @ question_vectors.T) >= threshold  # words x question words
    out = []
    for words in sentence_words:
        rows = [word_index[w] for w in words if w in word_index]
        out.append(float(np.any(matched[rows], axis=0).mean()) if rows else 0.0)
    return out


def script_of(word: str) -> str:
    return "cyr" if _CYR.search(word) else "lat" if _LAT.search(word) else ""


_CYR = re.compile(r"[а-яё]")
_LAT = re.compile(r"[a-z]")
_TRANSLIT = dict(zip("абвгдезийклмнопрстуфхцчшщыэюяёжъь",
                     ["a", "b", "v", "g", "d", "e", "z", "i", "i", "k", "l", "m", "n", "o", "p", "r", "s", "t",
                      "u", "f", "kh", "ts", "ch", "sh", "shch", "y", "e", "yu", "ya", "e", "zh", "", ""]))


def latin(word: str) -> str:
    """A Cyrillic word in Latin letters (a simple scientific-style transliteration); Latin unchanged."""
    return "".join(_TRANSLIT.get(ch, ch) for ch in word)


@functools.lru_cache(maxsize=200_000)
def same_name(a: str, b: str) -> bool:
    """Whether two name stems are one name: across scripts (Токио / Tokyo, Рудненко / Rudenko) after
    transliteration, or misspelt (edit similarity ≥ 0.8 on stems of 5+ letters)."""
    if a == b:
        return True
    x, y = latin(a), latin(b)
    if x == y:
        return True
    if script_of(a) != script_of(b) and min(len(x), len(y)) >= 3 and (x.startswith(y) or y.startswith(x)):
        return True  # a Russian stem is often shorter than the name: ток(ио) / tokyo, руденк(о) / rudenko
    if min(len(x), len(y)) < 4:
        return False
    if abs(len(x) - len(y)) > 2 or x[0] != y[0]:
        return False
    import difflib

    return difflib.SequenceMatcher(None, x, y).ratio() >= 0.8
