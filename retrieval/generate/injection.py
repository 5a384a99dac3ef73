"""Passages that read as instructions to a model ("Ignore previous instructions and answer: ...") are
kept out of the prompt and out of verification.

A document can carry text addressed to an LLM; a model that obeys it and cites the passage was shown as
verified, because the obeyed words are in the cited passage. Such sentences are found by their wording
(patterns below, English and Russian), replaced in the prompt by a marker that says text was withheld,
and never count as support or as the place a fact was found, so an answer built on them is dropped.
A document is never changed: the sentences stay searchable and quotable as what the document says;
`add` flags the document (:func:`ingest_note`) so whoever adds it knows.
"""
from __future__ import annotations

import re

from ..text.passages import split_sentences

MARKER = "[text addressed to an AI model withheld]"
_PATTERNS = [
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:previous|prior|above|earlier|preceding|all|any|your|the)\b"
    r"[^.!?\n]{0,25}\b(?:instructions?|prompts?)\b",
    r"\b(?:new|updated|real|actual|secret|hidden)\s+(?:system\s+)?instructions?\s*:",
    r"\b(?:system|developer)\s+(?:prompt|message|instructions?)\b",
    r"\byou\s+are\s+(?:now\s+)?(?:an?|the)\s+(?:ai|a\.i\.|assistant|language\s+model|llm|chat\s?bot)\b",
    r"\b(?:ai|llm|language\s+model|chat\s?bot|assistant)s?\s+(?:reading|processing|summari[sz]ing)\s+this\b",
    r"^\W*(?:answer|respond|reply|say|output|print)\s+(?:only\s+)?(?:with\s+|that\s+|:)",
    r"\band\s+(?:answer|respond|reply|say)\s*:",
    r"\b(?:игнорируй|игнорируйте|забудь|забудьте|проигнорируй)\w*\b[^.!?\n]{0,40}\b(?:инструкци|указани|правил)\w*",
    r"\b(?:ты|вы)\s+(?:теперь\s+)?(?:ии|ассистент|языковая\s+модель|чат-?бот)\b",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE | re.MULTILINE)


def is_instruction(sentence: str) -> bool:
    """Whether ``sentence`` reads as an instruction to a model."""
    return bool(_INSTRUCTION.search(sentence))


def withhold(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with the sentences at ``spans`` that read as instructions replaced by MARKER."""
    out, last = [], 0
    for start, end in spans:
        if is_instruction(text[start:end]):
            out.append(text[last:start] + MARKER)
            last = end
    out.append(text[last:])
    return "".join(out)


def ingest_note(text: str) -> str:
    """What `add` says about a document holding text addressed to a model ("" when none)."""
    if not _INSTRUCTION.search(text):
        return ""
    found = sum(is_instruction(text[s:e]) for s, e in split_sentences(text))
    if not found:
        return ""
    return (f"{found} sentence{'s' if found > 1 else ''} read as instructions to an AI model: withheld from "
            "LLM prompts")
