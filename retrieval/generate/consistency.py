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
SHARED = 3  # neighbouring words a name must share with another name of the source to be out of role


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


def _side(toks: list[Token], at: int, step: int, width: int) -> set[str]:
    """The content stems of the ``width`` content words before (step -1) or after (step 1) ``at``."""
    found: set[str] = set()
    i = at + step
    while 0 <= i < len(toks) and len(found) < width:
        if toks[i].stem:
            found.add(toks[i].stem)
        i += step
    return found


def _context(toks: list[Token], at: int, width: int = WINDOW) -> set[str]:
    """The content stems within ``width`` content words either side of position ``at``."""
    return _side(toks, at, -1, width) | _side(toks, at, 1, width)


def negation_problem(claim: str, support: str) -> str | None:
    """Why the negations disagree, or None. A negation in one sentence whose context (two content words
    either side) is at least two-thirds words of the other sentence must have a negation near them there
    too; a negation in a part the other sentence does not say is not compared."""
    a, b = tokens(claim), tokens(support)
    for mine, other, what in ((a, b, "the sentence negates what its source affirms"),
                              (b, a, "the sentence affirms what its source negates")):
        other_stems = {t.stem for t in other if t.stem}
        for i, tok in enumerate(mine):
            if not tok.negation:
                continue
            around = _context(mine, i, 2)
            shared = around & other_stems
            if len(shared) < 2 or len(shared) < 2 * len(around) / 3:
                continue  # the other sentence does not say this part: nothing to compare
            if not any(t.negation and _context(other, j) & shared for j, t in enumerate(other)):
                return what
    return None


def _same_name(a: str, b: str) -> bool:
    """One name, or a name and its adjective ("Russia", "Russian"; "Japan", "Japanese")."""
    short, long = sorted((a, b), key=len)
    return short == long or (len(short) >= 4 and long.startswith(short[:-1] if len(short) > 5 else short))


def _groups(toks: list[Token]) -> list[tuple[int, int]]:
    """(first, last) positions of each name: a run of name tokens ("Pittsburgh Steelers") is one name."""
    out: list[tuple[int, int]] = []
    for i, t in enumerate(toks):
        if not (t.name and t.stem):
            continue
        if out and out[-1][1] == i - 1:
            out[-1] = (out[-1][0], i)
        else:
            out.append((i, i))
    return out


def role_problem(claim: str, support: str) -> str | None:
    """Why a name is out of its role, or None: the words around a name of the claim (two content words
    either side of the whole name) stand, at least two of them, around a different name of the supporting
    sentence, and around none of this name's own occurrences there on the same side ("The Ukraine foreign
    ministry said" where the source has "The Russian foreign ministry said ... the situation in Ukraine";
    two names swapped). A name the supporting sentence does not hold (a resolved "he") is left to the fact
    check."""
    a, b = tokens(claim), tokens(support)
    names_b = _groups(b)
    if a and a[0].stem and a[0].text[:1].isupper() and any(b[j].stem == a[0].stem for g in names_b
                                                            for j in range(g[0], g[1] + 1)):
        a[0] = Token(a[0].text, a[0].stem, False, True)  # a first word the source writes as a name is one
    for first, last in _groups(a):
        stems = {a[k].stem for k in range(first, last + 1)}

        def same(group: tuple[int, int]) -> bool:
            return any(_same_name(b[k].stem, s) for k in range(group[0], group[1] + 1) for s in stems)

        left, right = _side(a, first, -1, 2), _side(a, last, 1, 2)
        around = {w for w in left | right if not any(_same_name(w, s) for s in stems)}
        if len(around) < 2:
            continue
        own = [g for g in names_b if same(g)]
        if not own:
            continue  # not in this sentence: a pronoun resolved ("He", "the team"), judged by the fact check
        if any(left & _side(b, g[0], -1, WINDOW) or right & _side(b, g[1], 1, WINDOW) for g in own):
            continue  # the source has this name with these words on the same side
        for g in names_b:
            if not same(g) and len((_side(b, g[0], -1, 2) | _side(b, g[1], 1, 2)) & around) >= min(SHARED, len(around)):
                return f"{a[first].text} appears in another role in the source"
    return None
