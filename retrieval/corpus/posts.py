"""One Telegram channel post into the corpus, by the short-post rule, as the bot receives it live.

The bot hands over a :class:`~retrieval.ingest.telegram.Post` (already plain text) and gets back what
happened in one :class:`PostOutcome`, so it can log it and never lose a post silently. An edit is the
same call with ``edited=True``: the post's earlier version (same ``post.path``) is replaced, and
removed when the edited post no longer qualifies (edited down to "🔥"), so no stale text stays
citable. Fetching a headline post's article uses the same loader and rules as ``citebot add URL``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import UserError
from ..ingest import IngestOptions, load_url
from ..ingest.telegram import Post, fill_article, plan_post
from ..types import AddResult, Document

if TYPE_CHECKING:  # pragma: no cover
    from .core import Corpus

log = logging.getLogger(__name__)


@dataclass
class PostOutcome:
    """What became of one post: ``action`` as planned (index, fetch, skip), the add results, ``reason``
    for a skip, ``error`` when the article could not be fetched, ``removed`` the doc id of an earlier
    version taken out by an edit."""

    action: str
    results: list[AddResult] = field(default_factory=list)
    reason: str = ""
    error: str = ""
    removed: int | None = None

    @property
    def doc_ids(self) -> list[int]:
        """Documents this post added or replaced (what standing questions should look at)."""
        return [r.doc_id for r in self.results if r.status in ("added", "replaced") and r.doc_id is not None]


def add_post(corpus: "Corpus", post: Post, edited: bool = False,
             options: IngestOptions | None = None) -> PostOutcome:
    """Index ``post`` by the short-post rule (``retrieval.ingest.telegram``); see the module doc."""
    try:
        plan = plan_post(post)
    except UserError as exc:  # no text left at all
        outcome = PostOutcome("skip", reason=str(exc).split(": ", 1)[-1])
        plan = None
    if plan is not None:
        outcome = PostOutcome(plan.action, reason=plan.reason)
        docs: list[Document] = []
        if plan.action == "fetch":
            options = options or IngestOptions.from_settings(corpus.settings)
            try:
                docs = [fill_article(d, post.channel, post.date) for d in load_url(plan.url, options).documents]
            except UserError as exc:
                outcome.error = str(exc)
                log.warning("%s: the linked article %s could not be fetched: %s", post.label, plan.url, exc)
                docs = [plan.document] if plan.document is not None else []
        elif plan.document is not None:
            docs = [plan.document]
        if docs:
            outcome.results = list(corpus.add_documents(docs))
    if edited and not any(r.path == post.path and r.status in ("added", "replaced", "duplicate")
                          for r in outcome.results):
        outcome.removed = _remove_earlier(corpus, post)
    return outcome


def _remove_earlier(corpus: "Corpus", post: Post) -> int | None:
    """The earlier version of an edited post that no longer qualifies, removed; its id (None: none)."""
    try:
        doc_id = corpus.document(post.path).doc_id
    except UserError:  # never indexed (it was short from the start)
        return None
    corpus.remove(doc_id)
    log.info("%s: edited below the short-post rule; its earlier version (doc %s) was removed", post.label, doc_id)
    return doc_id
