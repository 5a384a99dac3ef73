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
