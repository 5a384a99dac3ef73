"""Standing questions: a chat asks once, and is told when new documents answer it.

After a sync that added documents, :func:`check_watches` asks every watch again over the new
documents' passages only (``Corpus.ask_among``: the same answer and the same gate as ``ask``). An
answer above the gate is queued in the outbox (``retrieval.storage.watches``), once per watch and
passage text, so re-syncing, an unchanged edit or a second process never pushes it twice. Whoever can
talk to the chat (the bot) drains the outbox: :meth:`Watches.pending`, send, :meth:`Watches.delivered`.

Bounded by two settings: ``CITEBOT_WATCH_MAX_PER_USER`` watches per user and at most one push per
watch every ``CITEBOT_WATCH_PUSH_MINUTES`` minutes.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import UserError
from ..settings import default
from ..storage.watches import GONE, QUEUED, SEEN, THROTTLED, Push, Watch, WatchStore
from ..storage.watches import open_watches as open_watch_store
from ..text.cleaning import clean_question
from ..types import Answer, AnswerSentence, Citation, text_hash

if TYPE_CHECKING:  # pragma: no cover
    from ..corpus import Corpus
    from ..settings import Settings

__all__ = ["CheckReport", "Pending", "Push", "Watch", "Watches", "check_watches", "open_watches",
           "answer_from_json", "answer_to_json"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pending:
    """A push to send: the stored row and its answer, ready to render like any answer."""

    push: Push
    answer: Answer


class Watches:
    """The standing questions of every chat, with their bounds; thread-safe (the store is)."""

    def __init__(self, store: WatchStore, max_per_user: int = default("watch_max_per_user"),
                 push_minutes: float = default("watch_push_minutes"),
                 max_question_chars: int = default("max_question_chars")) -> None:
        self.store = store
        self.max_per_user = max_per_user
        self.push_minutes = push_minutes
        self.max_question_chars = max_question_chars

    def add(self, chat_id: int, question: str, user_id: int | None = None) -> Watch:
        """Watch ``question`` for ``chat_id``; the chat's identical watch is returned as it is. Over the
        per-user limit: UserError ``watch_limit``; an empty or over-long question: the usual errors."""
        question = clean_question(question, self.max_question_chars)
        added = self.store.add(int(chat_id), question, None if user_id is None else int(user_id),
                               self.max_per_user, time.time())
        if added.watch is None:
            raise UserError(f"at most {self.max_per_user} standing questions per user (CITEBOT_WATCH_MAX_PER_USER); "
                            f"remove one first", code="watch_limit", limit=self.max_per_user)
        return added.watch

    def list(self, chat_id: int | None = None) -> list[Watch]:
        return self.store.list(None if chat_id is None else int(chat_id))

    def get(self, watch_id: int) -> Watch | None:
        return self.store.get(int(watch_id))

    def remove(self, watch_id: int | str, chat_id: int | None = None) -> Watch:
        """Remove a watch (of ``chat_id`` only, when given); UserError ``no_watch`` when there is none."""
        text = str(watch_id).strip().lstrip("#")
        removed = None
        if text.isascii() and text.isdigit() and len(text) < 19:
            removed = self.store.remove(int(text), None if chat_id is None else int(chat_id))
        if removed is None:
            raise UserError(f"no standing question {str(watch_id)[:40]!r}", code="no_watch", ref=str(watch_id)[:40])
        return removed

    def pending(self, limit: int = 100) -> list[Pending]:
        """Pushes not yet delivered, oldest first, with their answers."""
        out = []
        for push in self.store.pending(limit):
            try:
                out.append(Pending(push, answer_from_json(push.answer)))
            except (ValueError, TypeError, KeyError) as exc:  # an unreadable row must not block the rest
                log.error("push %s has an unreadable answer (%s); marked delivered unsent", push.id, exc)
                self.store.delivered(push.id, time.time())
        return out

    def delivered(self, push_id: int) -> bool:
        """Mark a push sent (False when it already was)."""
        return self.store.delivered(int(push_id), time.time())

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Watches":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_watches(settings: "Settings") -> Watches:
    """The watches of ``settings``' store (SQLite in CITEBOT_HOME or CITEBOT_DATABASE_URL) with its bounds."""
    return Watches(open_watch_store(settings), settings.watch_max_per_user, float(settings.watch_push_minutes),
                   settings.max_question_chars)


@dataclass
class CheckReport:
    """What one check did, per outcome: pushes queued, passages pushed before, watches throttled."""

    checked: int = 0
    queued: int = 0
    seen: int = 0
    throttled: int = 0
    unanswered: int = 0
    errors: int = 0


def check_watches(corpus: "Corpus", watches: Watches, new_doc_ids: Iterable[int],
                  now: float | None = None, report: CheckReport | None = None) -> int:
    """Ask every watch again over ``new_doc_ids`` only; queue each answer above the gate once. Returns
    the number of pushes queued (``report``, when given, gets every count)."""
    doc_ids = sorted({int(d) for d in new_doc_ids})
    report = report if report is not None else CheckReport()
    if not doc_ids:
        return 0
    now = time.time() if now is None else now
    for watch in watches.list():
        report.checked += 1
        try:
            answer = corpus.ask_among(watch.question, doc_ids)
        except UserError as exc:  # a question the corpus refuses now (a stricter length limit): skip it
            log.warning("watch %s could not be asked: %s", watch.id, exc)
            report.errors += 1
            continue
        cited = _answering_citation(answer)
        if cited is None:
            report.unanswered += 1
            continue
        outcome = watches.store.queue(watch.id, cited.doc_id, text_hash(cited.passage), answer_to_json(answer),
                                      now, watches.push_minutes * 60)
        if outcome == QUEUED:
            report.queued += 1
            log.info("watch %s (chat %s): new answer in document %s queued", watch.id, watch.chat_id, cited.doc_id)
        elif outcome == SEEN:
            report.seen += 1
        elif outcome == THROTTLED:
            report.throttled += 1
            log.info("watch %s: an answer in document %s not pushed (one push per %g minutes)", watch.id,
                     cited.doc_id, watches.push_minutes)
        elif outcome == GONE:
            continue
    return report.queued


def _answering_citation(answer: Answer) -> Citation | None:
    """The passage the answer's first sentence quotes (None when nothing passed the gate)."""
    if not answer.answered or not answer.citations:
        return None
    numbers = [n for sentence in answer.sentences for n in sentence.citations]
    first = numbers[0] if numbers else answer.citations[0].n
    return next((c for c in answer.citations if c.n == first), answer.citations[0])


def answer_to_json(answer: Answer) -> str:
    """The whole answer (quote spans and highlights too) as JSON, so a push renders as it was found."""
    return json.dumps(asdict(answer), ensure_ascii=False)


def answer_from_json(text: str) -> Answer:
    """:func:`answer_to_json` reversed."""
    data: dict[str, Any] = json.loads(text)
    citations = [Citation(**{**c, "quotes": [tuple(q) for q in c.get("quotes", [])],
                             "bold": [tuple(b) for b in c.get("bold", [])]}) for c in data.pop("citations")]
    sentences = [AnswerSentence(**s) for s in data.pop("sentences", [])]
    highlights = [tuple(h) for h in data.pop("highlights", [])]
    return Answer(**data, citations=citations, sentences=sentences, highlights=highlights)
