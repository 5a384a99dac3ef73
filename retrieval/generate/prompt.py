"""The prompts: an answer from numbered passages, and a follow-up turned into a standalone question.

Everything goes into one user message (no system role): some chat templates (Gemma's) have no system
turn, and a single message behaves the same on every OpenAI-compatible server. The passages carry the
numbers the answer's citations will have, with title, date and source, so ``[n]`` means the same to the
model, the verifier and the reader. Sentences that read as instructions to a model are withheld
(retrieval.generate.injection).
"""
from __future__ import annotations

from typing import Sequence

from ..ingest.lang import detect
from ..text.passages import split_sentences
from ..types import Citation
from .injection import withhold

LANGUAGE_NAMES = {"en": "English", "ru": "Russian", "de": "German", "fr": "French", "es": "Spanish",
                  "it": "Italian", "uk": "Ukrainian", "pt": "Portuguese", "zh": "Chinese", "ar": "Arabic",
                  "el": "Greek", "tr": "Turkish", "vi": "Vietnamese", "th": "Thai", "hi": "Hindi",
                  "ro": "Romanian"}
MAX_PASSAGE_CHARS = 1500
# One worked example first: base models (Gemma 3 270M in the bench) continue a pattern better than they
# follow rules, and it shows every model the exact "sentence [n]." form the verifier reads. Its facts are
# in no corpus passage, so a model that copies the example has that sentence dropped.
EXAMPLE = ("Example.\nPassages:\n[1] Tower opens — 2020-05-04 — Example News\nThe new tower in Lyon was opened in "
           "May 2020 and is 120 metres tall.\nQuestion: How tall is the new tower?\n"
           "Answer: The new tower in Lyon is 120 metres tall [1].")


def question_language(question: str) -> str:
    """The name of the question's language, for the instruction ("answer in Russian")."""
    try:
        code = detect(question)
    except Exception:  # language detection is a hint only
        code = ""
    return LANGUAGE_NAMES.get(code or "", "the language of the question")


def format_passages(citations: Sequence[Citation]) -> str:
    blocks = []
    for c in citations:
        meta = " — ".join(x for x in (c.title or "(untitled)", c.date or "undated", c.source or "unknown source"))
        passage = withhold(c.passage, split_sentences(c.passage))  # no instructions to the model reach it
        text = " ".join(passage.split())[:MAX_PASSAGE_CHARS]
        blocks.append(f"[{c.n}] {meta}\n{text}")
    return "\n\n".join(blocks)


def answer_messages(question: str, citations: Sequence[Citation]) -> list[dict[str, str]]:
    """The chat messages asking for a short, cited answer in the question's language."""
    language = question_language(question)
    numbers = ", ".join(f"[{c.n}]" for c in citations)
    content = (
        f"{EXAMPLE}\n\n"
        "Answer the question using only the numbered news passages below.\n"
        f"Rules: answer in {language}, in one to three short sentences. End every sentence with the number "
        f"of the passage it comes from in square brackets ({numbers}). Copy names, numbers and dates exactly as "
        "the passage gives them. If the passages do not answer the question, reply only: NO ANSWER\n\n"
        f"Passages:\n{format_passages(citations)}\n\n"
        f"Question: {question}\n"
        "Answer:"
    )
    return [{"role": "user", "content": content}]


def rewrite_messages(history: Sequence[tuple[str, str]], question: str) -> list[dict[str, str]]:
    """Ask for the follow-up ``question`` as one standalone question, given (question, answer) turns."""
    turns = "\n".join(f"Q: {q}\nA: {a[:400]}" for q, a in history)
    content = (
        "Rewrite the follow-up question as one standalone question that can be understood without the "
        "conversation. Keep its language and its words; replace pronouns with what they refer to. Reply with "
        "the question only.\n\n"
        f"Conversation:\n{turns}\n\nFollow-up question: {question}\nStandalone question:"
    )
    return [{"role": "user", "content": content}]
