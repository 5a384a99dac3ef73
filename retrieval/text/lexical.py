"""Lexical analysis shared by indexing and querying: tokens, stop words, English/Russian stemming.

The one place terms are computed: every storage engine indexes and searches exactly these strings.

Stemming is chosen per token by script (Cyrillic -> Russian Snowball, Latin -> English Snowball), so
documents and queries are analysed identically without guessing a query's language.
"""
from __future__ import annotations

import re
from functools import lru_cache

import Stemmer

_TOKEN = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]")
_LATIN = re.compile(r"[a-z]")

STOPWORDS = frozenset(
    """
    a an and are as at be been being but by can could did do does doing for from had has have having he her
    hers him his how i if in into is it its me my no nor not of off on or our ours she should so some such
    than that the their theirs them then there these they this those to too us was we were what when where
    which who whom why will with would you your yours about after again against all am any because before
    below between both during each few further here just more most once only other out over own same
    through under until up very s t
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее её мне было
    вот от меня еще ещё нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас
    нибудь опять уж вам ведь там потом себя ничего ей может они тут где есть надо ней для мы тебя их чем
    была сам чтоб без будто чего раз тоже себе под будет ж тогда кто этот того потому этого какой совсем
    ним здесь этом один почти мой тем чтобы нее неё сейчас были куда зачем всех никогда можно при наконец
    два об другой хоть после над больше тот через эти нас про всего них какая много разве три эту моя
    впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более всегда конечно всю между
    почему это как
    """.split()
)


@lru_cache(maxsize=4)
def _stemmer(language: str) -> "Stemmer.Stemmer":
    return Stemmer.Stemmer(language)


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    if _CYRILLIC.search(token):
        return _stemmer("russian").stemWord(token)
    if _LATIN.search(token):
        return _stemmer("english").stemWord(token)
    return token


def terms(text: str, drop_stopwords: bool = True) -> list[str]:
    """Lower-cased, stemmed tokens of ``text`` (ё folded to е), stop words removed."""
    out = []
    for token in _TOKEN.findall(text.lower().replace("ё", "е")):
        if drop_stopwords and token in STOPWORDS:
            continue
        out.append(stem(token))
    return out


def query_terms(query: str) -> list[str]:
    """The distinct terms of a question, in order: what lexical search ORs (each engine its own way)."""
    return list(dict.fromkeys(terms(query)))
