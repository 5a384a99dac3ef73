"""Bytes to text: UTF-8 (BOM allowed), UTF-16 with a BOM, or a legacy code page recognised with confidence.

Newsroom archives hold Windows-1251 and KOI8-R Russian and Windows-1252 English. Any byte string decodes
in each of them, so a wrong guess is silent mojibake ("Nestlй", "кЮЙ"): a legacy encoding is accepted
only when its text looks like the language it serves (Cyrillic words mostly lower case and never mixed
with Latin letters; Western text with a few accented letters), otherwise the file is refused with one line.
"""
from __future__ import annotations

import re

from retrieval.errors import UserError

LEGACY_ENCODINGS = ("cp1251", "koi8_r", "cp1252")
_NAMES = {"cp1251": "Windows-1251", "koi8_r": "KOI8-R", "cp1252": "Windows-1252"}
_WORD = re.compile(r"\w+")
_LATIN = re.compile(r"[A-Za-z]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_WESTERN_PUNCT = set("‘’“”–—…•€£§°±«»·´¨©®")


def decode_text(data: bytes, label: str) -> str:
    """The text in ``data``; raises UserError naming ``label`` for binary data or an unknown encoding."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise UserError(f"{label}: damaged UTF-16 text") from None
    if b"\x00" in data[:65536]:
        raise UserError(f"{label}: binary file (contains NUL bytes), not text")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    encoding = legacy_encoding(data)
    if encoding is None:
        names = ", ".join(_NAMES[e] for e in LEGACY_ENCODINGS)
        raise UserError(f"{label}: not UTF-8 text (and not recognisably {names}); convert it to UTF-8")
    return data.decode(encoding)


def legacy_encoding(data: bytes) -> str | None:
    """The one legacy code page in which ``data`` reads as plausible text, or None."""
    for encoding in LEGACY_ENCODINGS:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if plausible(text, encoding):
            return encoding
    return None


def plausible(text: str, encoding: str) -> bool:
    """Does ``text`` (decoded as ``encoding``) read as Russian (Cyrillic code pages) or Western text?"""
    if any((ord(ch) < 32 and ch not in "\t\n\r\f") or 0x7F <= ord(ch) < 0xA0 for ch in text):
        return False
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if not non_ascii:
        return True
    if encoding in ("cp1251", "koi8_r"):
        cyrillic = [ch for ch in non_ascii if _CYRILLIC.match(ch)]
        if len(cyrillic) < 0.9 * len(non_ascii):
            return False
        # Russian text is mostly lower case; read in the other Cyrillic code page it turns mostly upper
        # case (KOI8-R's lower-case letters sit where Windows-1251 has capitals, and the reverse).
        lower = sum(1 for ch in cyrillic if ch.islower())
        if lower < 0.6 * len(cyrillic):
            return False
        # Western text misread as Cyrillic gives words mixing scripts ("Nestlй", "franзais").
        words = _WORD.findall(text)
        mixed = sum(1 for w in words if _LATIN.search(w) and _CYRILLIC.search(w))
        russian = sum(1 for w in words if _CYRILLIC.search(w) and not _LATIN.search(w))
        return russian >= 1 and mixed * 20 <= russian
    # Western text: accented letters and typographic punctuation, a minority of all characters, and no
    # Cyrillic-looking runs of accented capitals ("ÐÎÑÑÈß" is Russian read as Windows-1252).
    ok = sum(1 for ch in non_ascii if ch.isalpha() or ch in _WESTERN_PUNCT)
    if ok < 0.9 * len(non_ascii) or len(non_ascii) > 0.3 * len(text):
        return False
    words = _WORD.findall(text)
    accented_words = [w for w in words if any(ord(ch) > 127 for ch in w)]
    mostly_accented = sum(1 for w in accented_words if len(w) >= 3 and sum(ord(ch) > 127 for ch in w) * 2 > len(w))
    return mostly_accented * 4 <= max(1, len(accented_words))


def decode_lines(data: bytes, label: str) -> list[tuple[int, str | UserError]]:
    """Lines of a line-oriented file (JSON Lines), each decoded on its own: one Latin-1 line in a UTF-8
    file is one bad line (reported with its number), not a lost file. A file with no UTF-8 text beyond
    ASCII is decoded whole, so a legacy-encoded file is still read."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or data.startswith(b"\xef\xbb\xbf"):
        return list(enumerate(decode_text(data, label).split("\n"), start=1))
    raw_lines = data.split(b"\n")
    out: list[tuple[int, str | UserError]] = []
    utf8_non_ascii = False
    bad = False
    for lineno, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            bad = True
            out.append((lineno, UserError(f"{label} line {lineno}: not UTF-8 text (the rest of the file is)")))
            continue
        utf8_non_ascii = utf8_non_ascii or not line.isascii()
        out.append((lineno, line))
    if bad and not utf8_non_ascii:  # nothing says the file is UTF-8: read it as one legacy-encoded text
        return list(enumerate(decode_text(data, label).split("\n"), start=1))
    if b"\x00" in data[:65536]:
        raise UserError(f"{label}: binary file (contains NUL bytes), not text")
    return out
