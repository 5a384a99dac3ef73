"""Follow-up questions: the last few turns per conversation, and the rewrite into a standalone question.

A follow-up ("when was that?", "and why?", "what did he say?") cannot be searched on its own: it has no
content words, or it leans on a pronoun. Before retrieval it is turned into a standalone question — by
the LLM when one is configured (and its rewrite passes a sanity check), otherwise by carrying the
previous question's subject into it. Questions that stand on their own are searched as they are.
Turns live in memory only: bounded per key, bounded in keys (least recently used dropped), expiring.
"""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Callable, Hashable

from ..text.lexical import terms
from ..types import Answer

_WORD = re.compile(r"[\w'’-]+", re.UNICODE)

# Question words: the head of "when was that?" replaces the previous question's head.
WH_WORDS = frozenset(
    "what when where why who whom whose which how "
    "что когда где почему зачем кто кого кому чей чья чьё чье какой какая какое какие сколько как "
    "откуда куда".split())
# Words that only point back at something said before.
ANAPHORA = frozenset(
    "that it this these those they them their its he she him his her there then such "
    "это этого этом этому эти этих тот та то те того тому тем тогда там он она оно они его её ее их ему ей "
    "им ним ней нем нём такой такое".split())
# Leading words that mark a continuation ("and why?", "а когда?").
CONTINUATIONS = frozenset("and but so also or а и но также тоже ещё еще".split())
# Auxiliaries and copulas that may stand between the question word and the pointer ("when WAS that").
AUXILIARIES = frozenset(
    "is are was were be been do does did has have had will would can could should may might "
    "был была было были будет есть".split())
MAX_SHORT_WORDS = 5  # a question this short with a pointer word is a follow-up
MAX_REWRITE_CHARS = 400


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


@dataclass
class Turn:
    question: str  # as the user asked it
    standalone: str  # what was searched
    answer: str
    at: float


def _strip_continuation(words: list[str]) -> list[str]:
    while words and words[0].lower() in CONTINUATIONS:
        words = words[1:]
    return words


def is_follow_up(question: str) -> bool:
    """True when ``question`` needs the previous turn: nothing searchable of its own, or a short
    question leaning on a pronoun, or one that opens with "and ..." / a pronoun."""
    words = _words(question)
    if not words:
        return False
    lower = [w.lower() for w in words]
    if not terms(question):
        return True  # "why?", "when was that?", "а когда?"
    if lower[0] in CONTINUATIONS or lower[0] in ANAPHORA:
        return True  # "and in Japan?", "it was signed when?"
    return len(words) <= MAX_SHORT_WORDS and any(w in ANAPHORA for w in lower)


def _head(words: list[str]) -> tuple[str | None, list[str]]:
    """The leading question word (with its auxiliary) and the rest of a question's words."""
    lower = [w.lower() for w in words]
    if lower and lower[0] in WH_WORDS:
        rest = words[1:]
        if len(lower) > 1 and lower[1] in ("many", "much", "long", "often", "far"):
            return " ".join(words[:2]), words[2:]
        return words[0], rest
    return None, words


def subject(question: str) -> str:
    """The previous question without its question word and auxiliary: "why did talks stop?" ->
    "talks stop"."""
    words = _strip_continuation(_words(question))
    _, rest = _head(words)
    while rest and rest[0].lower() in AUXILIARIES:
        rest = rest[1:]
    return " ".join(rest)


def rewrite(previous: str, question: str) -> str:
    """A standalone question from a follow-up and the previous standalone question, without an LLM.

    "when was that?" after "why did talks stop?" -> "when did talks stop?": a follow-up that is only a
    question word (plus auxiliary and pointer) takes over the previous question's head; otherwise the
    previous question's subject is added in brackets: "what did he say?" -> "what did he say (Rudenko
    say about Japan)?"."""
    words = _strip_continuation(_words(question))
    prev_words = _strip_continuation(_words(previous))
    if not words or not prev_words:
        return question
    mark = "?" if question.rstrip().endswith("?") or previous.rstrip().endswith("?") else ""
    head, rest = _head(words)
    content = [w for w in rest if w.lower() not in AUXILIARIES and w.lower() not in ANAPHORA]
    if head is not None and not content:
        prev_head, prev_rest = _head(prev_words)
        if prev_head is not None:
            return f"{head} {' '.join(prev_rest)}{mark}"
        return f"{head} {' '.join(prev_words)}{mark}"
    about = subject(previous) or " ".join(prev_words)
    return f"{' '.join(words)} ({about}){mark}"


_REFUSAL = re.compile(r"^\W*(no answer|i can|i cannot|i can't|sorry|нет ответа|не могу|извините)", re.I)


def check_rewrite(question: str, rewritten: str | None, previous: list[str]) -> str | None:
    """The LLM's rewrite if it is a usable one-line question: it keeps the follow-up's own content words
    and takes at least one from the earlier questions (else it resolved nothing)."""
    if not rewritten:
        return None
    line = rewritten.strip().strip('"“”«»').strip()
    line = re.sub(r"^(standalone question|question|вопрос)\s*:\s*", "", line, flags=re.I).strip()
    if not line or "\n" in line or len(line) > MAX_REWRITE_CHARS or _REFUSAL.match(line):
        return None
    line_terms = set(terms(line))
    if not set(terms(question)) <= line_terms:
        return None
    if not line_terms & {t for q in previous for t in terms(q)}:
        return None
    return line


Rewriter = Callable[[list[Turn], str], "str | None"]


def _llm_rewriter(corpus: Any) -> Rewriter | None:
    """The configured LLM as a rewriter, or None (no CITEBOT_LLM_URL): the rule then rewrites alone."""
    settings = getattr(corpus, "settings", None)  # a test double of the corpus may have none
    if settings is None or not settings.llm_url:
        return None
    from ..generate import make_rewriter

    return make_rewriter(settings)


class Conversations:
    """Last few turns per key (bounded, expiring); turns follow-ups into standalone questions."""

    def __init__(self, max_turns: int = 4, ttl_s: float = 1800, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_turns = max_turns
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self._clock = clock
        self._turns: OrderedDict[Hashable, list[Turn]] = OrderedDict()
        self._lock = threading.Lock()

    def history(self, key: Hashable) -> list[Turn]:
        """The live turns of ``key``, oldest first (expired ones are dropped)."""
        now = self._clock()
        with self._lock:
            turns = [t for t in self._turns.get(key, []) if now - t.at <= self.ttl_s]
            if turns:
                self._turns[key] = turns
            else:
                self._turns.pop(key, None)
            return list(turns)

    def standalone(self, key: Hashable, question: str, llm_rewrite: Rewriter | None = None) -> str | None:
        """The standalone question for a follow-up, or None when ``question`` stands on its own."""
        turns = self.history(key)
        if not turns or not is_follow_up(question):
            return None
        if llm_rewrite is not None:
            try:
                checked = check_rewrite(question, llm_rewrite(turns, question), [t.standalone for t in turns])
            except Exception:  # the LLM is an optional helper here: any failure falls back to the rule
                checked = None
            if checked:
                return checked
        return rewrite(turns[-1].standalone, question)

    def record(self, key: Hashable, question: str, standalone: str, answer: str) -> None:
        with self._lock:
            turns = self._turns.pop(key, [])
            turns.append(Turn(question, standalone, answer, self._clock()))
            self._turns[key] = turns[-self.max_turns:]
            while len(self._turns) > self.max_keys:
                self._turns.popitem(last=False)

    def ask(self, corpus: Any, key: Hashable, question: str, **filters: Any) -> Answer:
        """Rewrite a follow-up, ask the corpus, remember the turn. ``filters`` go to ``corpus.ask``."""
        searched = self.standalone(key, question, _llm_rewriter(corpus))
        answer = corpus.ask(searched or question, **filters)
        if searched:
            answer = replace(answer, question=question, searched_for=searched)
        self.record(key, question, searched or question, answer.answer)
        return answer

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._turns.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._turns)


__all__ = ["Conversations", "Turn", "is_follow_up", "rewrite", "subject", "check_rewrite"]
