"""Optional LLM answers over an OpenAI-compatible server, every sentence verified before it is shown.

``generative_answer`` takes the extractive answer (its citations are the passages shown to the model),
asks the model, verifies each sentence (retrieval.generate.verify) and returns the generative answer —
or the extractive one, with ``fallback`` saying why, when the model times out, errors, refuses or no
sentence survives. Nothing here runs unless CITEBOT_LLM_URL is set.
"""
from __future__ import annotations

import logging
import time
import urllib.parse
from dataclasses import dataclass, replace
from typing import Any, Callable, Sequence

import numpy as np

from ..types import Answer, AnswerSentence, Citation
from .client import ChatClient, Completion, LLMError
from .prompt import answer_messages, rewrite_messages
from .verify import Verification, verify

log = logging.getLogger(__name__)

STOP = ["<end_of_turn>", "\nQuestion:", "\n\n\n"]

__all__ = ["ChatClient", "LLMError", "Completion", "Generation", "client_for", "generate", "generative_answer",
           "make_rewriter", "verify", "Verification"]


def client_for(settings: Any) -> ChatClient | None:
    """The configured client, or None when CITEBOT_LLM_URL is empty."""
    url = settings.llm_url
    if not url.strip():
        return None
    return ChatClient(url, settings.llm_model, settings.llm_api_key, float(settings.llm_timeout),
                      bool(settings.llm_stream))


@dataclass
class Generation:
    """What one LLM answer took: the answer given, the model's raw text and the per-sentence verdicts."""

    answer: Answer
    output: str | None = None
    verification: Verification | None = None
    seconds: float = 0.0


def generative_answer(answer: Answer, settings: Any, encode: Callable[[list[str]], np.ndarray],
                      client: ChatClient | None = None) -> Answer:
    """The verified LLM answer built on ``answer``'s passages, or ``answer`` itself as the fallback."""
    return generate(answer, settings, encode, client).answer


def generate(answer: Answer, settings: Any, encode: Callable[[list[str]], np.ndarray],
             client: ChatClient | None = None) -> Generation:
    """``generative_answer`` with its workings (for the bench and for debugging)."""
    client = client or client_for(settings)
    if client is None or not answer.answered or not answer.citations:
        return Generation(answer)
    started = time.monotonic()  # CITEBOT_LLM_TIMEOUT bounds the prompt (language detection) and the call
    messages = answer_messages(answer.question, answer.citations)
    try:
        remaining = max(0.1, client.timeout - (time.monotonic() - started))
        completion = client.complete(messages, max_tokens=int(settings.llm_max_tokens), stop=STOP, timeout=remaining)
    except LLMError as exc:
        log.warning("LLM answer failed (%s); giving the extractive answer", exc.reason)
        return Generation(replace(answer, fallback=exc.reason))
    text = redact_secrets(completion.text, settings)
    if text != completion.text:  # the server echoed a header or the key leaked into the model: not shown
        log.warning("the LLM's answer held a secret citebot holds (an echoed header?); giving the extractive answer")
        return Generation(replace(answer, fallback="secret in the answer"), text, None, completion.seconds)
    checked = verify(completion.text, answer.citations, encode, float(settings.llm_min_support))
    for v in checked.verdicts:
        if not v.kept:
            log.info("dropped generated sentence (%s)", v.reason)
    if not checked.kept:
        reason = "refusal" if checked.refused or any(v.reason == "refusal" for v in checked.verdicts) else (
            "no sentence survived verification" if checked.verdicts else "empty answer")
        final = replace(answer, fallback=reason, dropped=checked.dropped)
    else:
        final = build_answer(answer, checked)
    return Generation(final, completion.text, checked, completion.seconds)


REDACTED = "[redacted]"


def secrets_of(settings: Any) -> list[str]:
    """The secret values citebot holds (CITEBOT_LLM_API_KEY, the database password, the bot token: every
    setting declared ``secret``), longest first; a URL contributes its password."""
    found: set[str] = set()
    for setting in settings.declared:
        value = getattr(settings, setting.name) if setting.secret else None  # every declared secret, by name
        if not isinstance(value, str) or not value.strip():
            continue
        if "://" in value:
            try:
                password = urllib.parse.urlsplit(value.strip()).password
            except ValueError:
                password = None
            if password:
                found.update({password, urllib.parse.unquote(password)})
        else:
            found.add(value.strip())
    return sorted((s for s in found if len(s) >= 4), key=len, reverse=True)


def redact_secrets(text: str, settings: Any) -> str:
    """``text`` with every secret citebot holds replaced by [redacted] (a server that echoes the request's
    Authorization header must not get the key shown to the user)."""
    for secret in secrets_of(settings):
        text = text.replace(secret, REDACTED)
    return text


def build_answer(answer: Answer, checked: Verification) -> Answer:
    """The generative Answer from the kept sentences; citations keep the numbers the model saw."""
    sentences = [AnswerSentence(v.claim.text, v.claim.citations, v.support, v.quote) for v in checked.kept]
    text = " ".join(f"{s.text} " + "".join(f"[{n}]" for n in s.citations) for s in sentences)
    quotes: dict[int, list[tuple[int, int]]] = {}
    for v in checked.kept:
        citation = answer.citations[v.quote_n - 1] if v.quote_n else None
        if citation is not None:
            start = citation.passage.find(v.quote)
            if start >= 0 and (start, start + len(v.quote)) not in quotes.get(citation.n, []):
                quotes.setdefault(citation.n, []).append((start, start + len(v.quote)))
    citations: list[Citation] = [replace(c, quotes=sorted(quotes.get(c.n, []))) for c in answer.citations]
    return replace(answer, answer=text, citations=citations, sentences=sentences, mode="generative",
                   dropped=checked.dropped, fallback="")


def make_rewriter(settings: Any) -> Callable[[Sequence[Any], str], str | None] | None:
    """A follow-up rewriter for retrieval.answer.conversation that asks the configured LLM (None if unset)."""
    client = client_for(settings)
    if client is None:
        return None

    def rewrite(turns: Sequence[Any], question: str) -> str | None:
        messages = rewrite_messages([(t.standalone, t.answer) for t in turns], question)
        try:
            return client.complete(messages, max_tokens=64, stop=["\n"] + STOP[:2]).text
        except LLMError as exc:
            log.info("LLM rewrite failed (%s); using the rule", exc.reason)
            return None

    return rewrite
