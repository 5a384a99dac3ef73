"""Checks a generated sentence must pass against its supporting sentence besides similarity and facts:
negation cues agree, and each name keeps its role context. No NLI model: word positions only.

Similarity and fact checks pass a sentence that flips a negation ("Moscow was not stopping ...") or swaps
roles using names the passage holds ("The Ukraine foreign ministry said ..." from "the Russian foreign
ministry said ... the situation in Ukraine"). Both checks look only at the part of the supporting
sentence the claim covers, so a paraphrase of one clause of a long sentence is not judged by another
clause: a negation counts where the words around it are words of the other sentence, and a name is
judged only when its neighbouring words occur in the supporting sentence but nowhere near the name.
Measured in docs/llm.md (bench/llm_quality.py): what they catch, what paraphrases they cost.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..text.lexical import STOPWORDS, stem

NEGATIONS = frozenset(
    "not no never neither nor none nobody nothing nowhere without cannot n't "
    "не нет ни никогда никто ничто ничего нигде без нельзя".split())
_TOKEN = re.compile(r"[\w’']+", re.UNICODE)
WINDOW = 3  # content words either side of a negation or a name that make its context


@dataclass(frozen=True)
class Token:
    text: str
    stem: str  # "" for a stop word
    negation: bool
    name: bool  # capitalised and not the sentence's first word


def tokens(sentence: str) -> list[Token]:
    out: list[Token] = []
    for i, match in enumerate(_TOKEN.finditer(sentence)):
        word = match.group().replace("’", "'")
        lower = word.lower()
        negation = lower in NEGATIONS or lower.endswith("n't")
        content = not negation and lower not in STOPWORDS
        name = i > 0 and word[:1].isupper() and not negation
        out.append(Token(word, stem(lower) if content else "", negation, name))
    return out


def _context(toks: list[Token], at: int, width: int = WINDOW) -> set[str]:
    """The content stems within ``width`` content words either side of position ``at``."""
    found: set[str] = set()
    for step in (-1, 1):
        seen, i = 0, at + step
        while 0 <= i < len(toks) and seen < width:
            if toks[i].stem:
                found.add(toks[i].stem)
                seen += 1
            i += step
    return found


def negation_problem(claim: str, support: str) -> str | None:
    """Why the negations disagree, or None. A negation in one sentence whose context words (three content
    words either side) are mostly in the other sentence must have a negation near them there too."""
    a, b = tokens(claim), tokens(support)
    for mine, other, what in ((a, b, "the sentence negates what its source affirms"),
                              (b, a, "the sentence affirms what its source negates")):
        other_stems = {t.stem for t in other if t.stem}
        for i, tok in enumerate(mine):
            if not tok.negation:
                continue
            around = _context(mine, i)
            shared = around & other_stems
            if len(shared) < 2 or len(shared) < len(around) / 2:
                continue  # the other sentence does not say this part: nothing to compare
            if not any(t.negation and _context(other, j) & shared for j, t in enumerate(other)):
                return what
    return None


def _same_name(a: str, b: str) -> bool:
    """One name, or a name and its adjective ("Russia", "Russian"; "Japan", "Japanese")."""
    short, long = sorted((a, b), key=len)
    return short == long or (len(short) >= 4 and long.startswith(short[:-1] if len(short) > 5 else short))


def role_problem(claim: str, support: str) -> str | None:
    """Why a name is out of its role, or None: a name of the claim that the supporting sentence holds,
    whose neighbouring words (two content words either side) occur in that sentence but none of them
    near any occurrence of the name ("Ukraine foreign ministry" where the source has "Russian foreign
    ministry ... in Ukraine")."""
    a, b = tokens(claim), tokens(support)
    other_stems = {t.stem for t in b if t.stem}
    for i, tok in enumerate(a):
        if not tok.name or not tok.stem:
            continue
        places = [j for j, t in enumerate(b) if t.stem and _same_name(t.stem, tok.stem)]
        if not places:
            continue  # not in this sentence (the fact check looks at the whole passage)
        around = {s for s in _context(a, i, 2) if s != tok.stem and s in other_stems}
        around -= {t.stem for t in a if t.name}  # other names: a two-word name is one name
        if len(around) < 2:
            continue  # too little shared context to judge a role
        if not any(_context(b, j) & around for j in places):
            return f"{tok.text} appears in another role in the source"
    return None
