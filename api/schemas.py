"""Request bodies, strictly typed: a string where a number belongs (or an unknown field) is a 422 with
the field named, before anything reaches the corpus. Lengths are capped here too; the question's own
limit (CITEBOT_MAX_QUESTION_CHARS) is the library's, with its ``question_too_long`` code."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DATE = r"^\d{4}-\d{2}-\d{2}$"
CONVERSATION = r"^[A-Za-z0-9_-]{1,64}$"


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    question: str = Field(description="The question, in any language the embedder reads.")
    k: int | None = Field(None, ge=1, le=50, description="Passages to cite (default CITEBOT_TOP_K).")
    since: str | None = Field(None, pattern=DATE, description="Only documents dated on or after YYYY-MM-DD.")
    until: str | None = Field(None, pattern=DATE, description="Only documents dated on or before YYYY-MM-DD.")
    as_of: str | None = Field(None, pattern=DATE, description="Answer as the news stood on YYYY-MM-DD: only "
                              "documents dated on or before it (the earlier of this and `until`).")
    source: str | None = Field(None, max_length=200, description="Only documents from this source, e.g. TASS.")
    conversation_id: str | None = Field(None, pattern=CONVERSATION, description="The id returned by an earlier "
                                        "answer: this question is a follow-up in that conversation (kept in "
                                        "the answering server's memory for 30 minutes).")
    history: list[str] = Field(default_factory=list, max_length=8, description="Earlier questions of the "
                               "conversation, oldest first: a stateless alternative to `conversation_id` that "
                               "works with any number of servers.")


class UrlRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(max_length=4000, description="An http(s) URL to fetch and add (web page, PDF, DOCX, text).")
    force: bool = Field(False, description="Add near-duplicates anyway.")


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str = Field(max_length=32)
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The parts of OpenAI's chat completions request citebot reads; other fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field("citebot", max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


class SourceRequest(BaseModel):
    """What `citebot sources add` takes: a feed or sitemap URL (checked by the URL guard now, and at every
    fetch), a Telegram ``@channel``, or a folder under CITEBOT_API_SOURCE_FOLDERS."""

    model_config = ConfigDict(extra="forbid", strict=True)

    location: str = Field(min_length=1, max_length=4000, description="A feed (RSS, Atom, JSON Feed) or sitemap "
                          "URL, a `@channel`, or a folder on the server under CITEBOT_API_SOURCE_FOLDERS.")
    every: str | int | None = Field(None, description="Sync interval: seconds, or `90s`, `30m`, `1h`, `1d` "
                                    "(default 30m).")
    name: str | None = Field(None, max_length=200, description="A name for the source (default: from its address).")
    prune: bool = Field(False, description="Folders: remove documents whose files disappeared.")


class SourceStateOut(BaseModel):
    """Where a source's sync stands; times are ISO 8601 UTC, null when it never happened."""

    etag: str
    last_modified: str
    last_success: str | None
    last_attempt: str | None
    last_error: str = Field(description="Why the last sync failed, in one line; empty after a success.")
    failures: int = Field(description="Consecutive failed syncs (the backoff grows with them).")
    next_due: str | None
    entries: int = Field(description="Entries seen so far.")


class SourceOut(BaseModel):
    """One followed source: the `citebot sources list --json` shape."""

    id: int
    kind: str = Field(description="feed, sitemap, folder or telegram")
    location: str
    name: str
    every: int = Field(description="Seconds between two syncs.")
    prune: bool
    added: str | None
    state: SourceStateOut


class SourceList(BaseModel):
    sources: list[SourceOut]


class SourceRemoved(BaseModel):
    removed: SourceOut = Field(description="The source no longer followed (its documents stay).")


class SyncOut(BaseModel):
    """What syncing one source now did. ``status``: ok, not-modified or error (the sync ran; its error is
    also kept in the source's state)."""

    status: str
    new: int
    replaced: int
    removed: int
    unchanged: int = Field(description="Entries seen before and not fetched again.")
    entries: int = Field(description="Entries the feed, sitemap or folder holds now.")
    fallbacks: int = Field(description="Entries indexed from the feed's own text because the page failed.")
    new_doc_ids: list[int]
    replaced_doc_ids: list[int]
    removed_doc_ids: list[int]
    errors: list[str] = Field(description="Per-entry problems (the rest of the source went on).")
    error: str = Field(description="Why the whole source failed, in one line; empty when it did not.")
    seconds: float
    watch_pushes: int = Field(description="Answers queued for standing questions (/v1/watches) over the new and "
                              "replaced documents; the bot pushes them.")
    source: SourceOut = Field(description="The source with its new state.")


CHAT_ID = 2**63 - 1


class WatchRequest(BaseModel):
    """A standing question for a Telegram chat (`citebot watch add CHAT_ID QUESTION`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    chat_id: int = Field(ge=-CHAT_ID, le=CHAT_ID, description="The Telegram chat the answers are pushed to.")
    question: str = Field(max_length=100_000, description="The question; its length limit is CITEBOT_MAX_QUESTION_CHARS.")
    user_id: int | None = Field(None, ge=-CHAT_ID, le=CHAT_ID, description="Whose watch it is: the per-user limit "
                                "(CITEBOT_WATCH_MAX_PER_USER) counts against it (the chat when absent).")


class WatchOut(BaseModel):
    id: int
    chat_id: int
    user_id: int | None
    question: str
    created: str | None
    last_push: str | None = Field(description="When an answer was last queued for it (ISO 8601 UTC).")


class WatchList(BaseModel):
    watches: list[WatchOut]


class WatchRemoved(BaseModel):
    removed: WatchOut
