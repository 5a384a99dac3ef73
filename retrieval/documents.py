"""Turn CLI arguments (files, directories, stdin, URLs) into :class:`Document` objects with metadata.

Every loader either returns documents or raises :class:`UserError` with one line that names the file,
so the caller can report a bad file and carry on with the rest. Metadata precedence for text files:
YAML front matter > a leading ``date YYYY-MM-DD`` line > the news dateline ("MOSCOW, February 8.
/TASS/."), whose place and source are kept and which is removed from the body text.
"""
from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import yaml

from retrieval import dates, lang
from retrieval.errors import UserError
from retrieval.types import Document

TEXT_SUFFIXES = frozenset({".txt", ".text", ".md", ".markdown"})
BULK_SUFFIXES = frozenset({".jsonl", ".ndjson", ".csv"})
SUPPORTED_SUFFIXES: frozenset[str] = TEXT_SUFFIXES | BULK_SUFFIXES | frozenset({".html", ".htm", ".pdf", ".docx"})

TITLE_MAX_CHARS = 100
HEADING_MAX_CHARS = 150
BULK_FIELDS = ("title", "text", "date", "source", "url", "lang")


# --------------------------------------------------------------------------------------------- sources


def load_sources(args: Iterable[str], max_bytes: int) -> Iterator[tuple[str, list[Document] | Exception]]:
    """For each CLI argument yield (label, documents) per file, or (label, UserError) per failure.

    "-" reads stdin, http(s):// fetches the URL, a directory is walked recursively in sorted order
    (hidden entries skipped, symlink loops safe, unsupported suffixes skipped silently); an explicitly
    named unsupported file is an error. A bulk file (JSON Lines, CSV) with bad lines yields its good
    documents under the file's label and one error per bad line labelled ``FILE line N``. Error
    messages do not repeat the label: "label: message" is the one line to show a user (the CLI), and
    the message alone suits a reply about a file the user just sent (the bot).
    """
    for arg in args:
        if arg == "-":
            try:
                yield "-", load_stdin(max_bytes)
            except UserError as exc:
                yield _bare("-", exc)
            continue
        if re.match(r"(?i)https?://", arg):
            try:
                from retrieval import fetch

                yield arg, fetch.fetch_documents(arg, max_bytes)
            except UserError as exc:
                yield _bare(arg, exc)
            continue
        path = Path(arg)
        if path.is_dir():
            found = False
            for file in walk(path):
                found = True
                yield from _load_labelled(file, max_bytes)
            if not found:
                supported = " ".join(sorted(SUPPORTED_SUFFIXES))
                yield arg, UserError(f"no supported files in this directory ({supported})")
        elif path.exists():
            yield from _load_labelled(path, max_bytes)
        elif path.is_symlink():
            yield arg, UserError("broken symbolic link")
        else:
            yield arg, UserError("no such file or directory")


def _load_labelled(path: Path, max_bytes: int) -> Iterator[tuple[str, list[Document] | Exception]]:
    label = str(path)
    try:
        if path.suffix.lower() in BULK_SUFFIXES:
            docs, errors = load_bulk(path, max_bytes)
            if docs or not errors:
                yield label, docs
            for lineno, err in errors:
                yield _bare(f"{label} line {lineno}", err)
        else:
            yield label, load_file(path, max_bytes)
    except UserError as exc:
        yield _bare(label, exc)
    except OSError as exc:  # permission denied, vanished while walking, ...
        yield label, UserError(f"cannot read: {exc.strerror or exc}")


def _bare(label: str, exc: UserError) -> tuple[str, UserError]:
    """(label, error) with the label removed from the front of the message, where it is repeated."""
    message = str(exc)
    for prefix in (f"{label}: ", "stdin: " if label == "-" else f"{label}: "):
        if message.startswith(prefix) and len(message) > len(prefix):
            return label, UserError(message[len(prefix):])
    return label, exc


def walk(root: Path) -> Iterator[Path]:
    """Supported files under ``root``, sorted, hidden names skipped, each directory visited once."""
    seen: set[tuple[int, int]] = set()

    def visit(directory: Path) -> Iterator[Path]:
        try:
            st = directory.stat()
        except OSError:
            return
        key = (st.st_dev, st.st_ino)
        if key in seen:  # a symlink loop or a second link to a directory already walked
            return
        seen.add(key)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_dir():
                    yield from visit(path)
                elif entry.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield path
            except OSError:
                continue

    yield from visit(root)


def load_stdin(max_bytes: int) -> list[Document]:
    """Standard input as one plain-text document (front matter and dateline honoured)."""
    stream = getattr(sys.stdin, "buffer", None)
    data = stream.read(max_bytes + 1) if stream is not None else sys.stdin.read(max_bytes + 1).encode("utf-8")
    if len(data) > max_bytes:
        raise UserError(f"stdin: more than {max_bytes} bytes; split the input or raise the size limit")
    return load_text(decode_text(data, "stdin"), path="-", suffix=".txt")


# ------------------------------------------------------------------------------------------------ files


def load_file(path: Path, max_bytes: int) -> list[Document]:
    """Documents in one file; raises UserError naming the file when it cannot be loaded."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        supported = " ".join(sorted(SUPPORTED_SUFFIXES))
        shown = suffix or "(no suffix)"
        raise UserError(f"{path}: unsupported file type {shown}; supported: {supported}")
    data = read_limited(path, max_bytes)
    if not data.strip():
        raise UserError(f"{path}: file is empty")
    where = str(path.resolve()) if path.exists() else str(path)
    if suffix in BULK_SUFFIXES:
        docs, errors = _parse_bulk(data, path, suffix)
        if errors:
            lines = ", ".join(str(n) for n, _ in errors[:5])
            raise UserError(f"{errors[0][1]}" + (f" (bad lines: {lines})" if len(errors) > 1 else ""))
        return docs
    if suffix in TEXT_SUFFIXES:
        return load_text(decode_text(data, str(path)), path=where, suffix=suffix, label=str(path))
    from retrieval import formats

    return formats.load_binary(data, suffix, where, label=str(path))


def load_bulk(path: Path, max_bytes: int) -> tuple[list[Document], list[tuple[int, UserError]]]:
    """Good documents of a JSON Lines or CSV file and a (line number, error) per bad line."""
    data = read_limited(path, max_bytes)
    if not data.strip():
        raise UserError(f"{path}: file is empty")
    return _parse_bulk(data, path, path.suffix.lower())


def read_limited(path: Path, max_bytes: int) -> bytes:
    """File bytes, refusing files above ``max_bytes`` before reading them whole."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise UserError(f"{path}: {size} bytes is over the size limit of {max_bytes} bytes")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory") from None
    except PermissionError:
        raise UserError(f"{path}: permission denied") from None
    except FileNotFoundError:
        raise UserError(f"{path}: no such file or directory") from None
    if len(data) > max_bytes:  # the file grew while we read it
        raise UserError(f"{path}: over the size limit of {max_bytes} bytes")
    return data


def decode_text(data: bytes, label: str) -> str:
    """UTF-8 (BOM allowed), UTF-16 with a BOM (Windows "Unicode"), or legacy cp1251/cp1252 when the
    result is plausible text."""
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
    for encoding in ("cp1251", "cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _plausible(text, encoding):
            return text
    raise UserError(f"{label}: not UTF-8 text (and not plausible cp1251/latin-1); convert it to UTF-8")


def _plausible(text: str, encoding: str) -> bool:
    controls = sum(1 for ch in text if (ord(ch) < 32 and ch not in "\t\n\r\f") or 0x7F <= ord(ch) < 0xA0)
    if controls:
        return False
    non_ascii = [ch for ch in text if ord(ch) > 127]
    if not non_ascii:
        return True
    letters = [ch for ch in non_ascii if ch.isalpha()]
    if encoding == "cp1251":
        # Russian text: the non-ASCII characters are nearly all Cyrillic letters.
        cyr = sum(1 for ch in letters if "\u0400" <= ch <= "\u04ff")
        if cyr < 0.9 * len(non_ascii):
            return False
        # Western text misread as cp1251 gives words mixing scripts ("parlй", "franзais").
        words = re.findall(r"\w+", text)
        mixed = sum(1 for w in words if re.search(r"[A-Za-z]", w) and re.search(r"[\u0400-\u04ff]", w))
        return mixed <= 0.02 * len(words)
    # Western text: accented letters and typographic punctuation, a minority of all characters.
    ok = sum(1 for ch in non_ascii if ch.isalpha() or ch in "‘’“”–—…•€£§°±«»·´¨©®")
    return ok >= 0.9 * len(non_ascii) and len(non_ascii) <= 0.3 * len(text)


# ------------------------------------------------------------------------------------------ text & md

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_DATE_PREFIX = re.compile(r"\A[ \t]*date:?[ \t]+(\d{4}-\d{1,2}-\d{1,2}(?:T\S*)?)(?:[ \t]+|\n|\Z)", re.IGNORECASE)


def load_text(text: str, path: str = "-", suffix: str = ".txt", label: str | None = None) -> list[Document]:
    """One document from plain text or Markdown, with front matter, date line and dateline read."""
    label = label or path
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    meta: dict[str, Any] = {}
    m = _FRONT_MATTER.match(text)
    if m:
        meta = _front_matter(m.group(1) or "", label)
        text = text[m.end():]
    date = meta.get("date")
    body = text.lstrip("\n")
    m = _DATE_PREFIX.match(body)
    if m:
        iso = dates.parse_date(m.group(1))
        if not iso:
            raise UserError(f"{label}: invalid date {m.group(1)!r} in the leading date line")
        date = date or iso
        body = body[m.end():]
    is_markdown = suffix in {".md", ".markdown"}
    if is_markdown:
        body = markdown_to_text(body)
    body = normalise_text(body)
    heading, body = _split_heading(body, markdown=is_markdown)
    place = str(meta.get("place") or "")
    source = str(meta.get("source") or "")
    dl = dates.find_dateline(body)
    if dl:
        body = body[dl.end:].lstrip()
        place = place or dl.place
        source = source or dl.source
        date = date or dl.resolve(reference=None, text=body)
    if not body.strip():
        raise UserError(f"{label}: empty (no text after the metadata)")
    title = str(meta.get("title") or "").strip() or heading or first_sentence_title(body)
    doc = Document(
        text=body,
        title=title,
        date=date,
        source=source,
        url=str(meta.get("url") or ""),
        lang=str(meta.get("lang") or "") or lang.detect(body),
        path=path,
        place=place,
    )
    return [doc]


class _FrontMatterLoader(yaml.SafeLoader):
    """safe_load without anchors/aliases: nine nested aliases ("billion laughs") expand to 9**9 items
    when the title is turned into text, hanging `citebot add`; front matter never needs them."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def _front_matter(raw: str, label: str) -> dict[str, Any]:
    try:
        meta = yaml.load(raw, Loader=_FrontMatterLoader) if raw.strip() else {}  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise UserError(f"{label}: invalid YAML front matter{where}") from None
    except ValueError as exc:  # PyYAML builds dates itself: "date: 2024-02-30" fails here
        raise UserError(f"{label}: invalid date in front matter ({exc})") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise UserError(f"{label}: front matter must be key: value pairs")
    meta = {str(k).lower(): v for k, v in meta.items()}
    if "date" in meta and meta["date"] is not None:
        meta["date"] = coerce_date(meta["date"], f"{label}: invalid date {meta['date']!r} in front matter")
    return meta


def coerce_date(value: Any, message: str) -> str | None:
    """ISO date from a YAML/JSON/CSV value (date, datetime or string); raises UserError(message)."""
    if value is None or value == "":
        return None
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    iso = dates.parse_date(str(value)) if isinstance(value, str) else None
    if not iso:
        raise UserError(message)
    return iso


def normalise_text(text: str) -> str:
    """Newlines as \\n, no trailing spaces, paragraphs separated by exactly one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    if out:
        out[0] = out[0].lstrip()
    return "\n".join(out)


def _split_heading(body: str, markdown: bool) -> tuple[str, str]:
    """(heading, rest) when the first paragraph is a one-line heading, else ("", body)."""
    first, sep, rest = body.partition("\n\n")
    if not sep or "\n" in first or not rest.strip():
        return "", body
    line = first.strip()
    if markdown and line.startswith("#"):
        return line.lstrip("#").strip(), rest
    if 0 < len(line) <= HEADING_MAX_CHARS and not line.endswith((".", ":", ";", ",")) and re.search(r"\w", line):
        if dates.find_dateline(line + " ") is None:
            return line, rest
    return "", body


_SENTENCE_END = re.compile(r"[.!?…](?:[\"'»”)]*)(?=\s+[\"'«“(]*[A-ZА-ЯЁ0-9])")


def first_sentence_title(body: str) -> str:
    """The first sentence, shortened to <= 100 characters at a word boundary with "…"."""
    para = body.split("\n\n", 1)[0].replace("\n", " ").strip()
    m = _SENTENCE_END.search(para)
    sentence = para[: m.end()] if m else para
    sentence = sentence.strip()
    if sentence.endswith(".") and not sentence.endswith(".."):
        sentence = sentence[:-1]
    return shorten(sentence, TITLE_MAX_CHARS)


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,;:-–—") + "…"


# Each inner scan stops at the next opening delimiter ("[", "(", "**", "<!--"), so a file full of unclosed
# ones is read in linear time: with ".+?"/"[^\]]+" a 40 KB line of "[" or "**a " took 4-5 s, 1 MB hours.
_MD_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^```[^\n]*\n|^```\s*$", re.MULTILINE), ""),  # code fences (keep the code)
    (re.compile(r"!\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)"), r"\1"),  # images -> alt text
    (re.compile(r"\[([^\[\]]+)\]\((?:[^()]|\([^()]*\))*\)"), r"\1"),  # links -> link text (url may hold "(x)")
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*)$", re.MULTILINE),
     lambda m: "# " + m.group(1).rstrip(" \t#")),  # normalise headings
    (re.compile(r"(\*\*|__)(?=\S)((?:(?!\1).)+?)(?<=\S)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # italic *x*
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"\1"),  # italic _x_
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # inline code
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.MULTILINE), ""),  # block quotes
    (re.compile(r"^[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE), ""),  # horizontal rules
    (re.compile(r"^<!--(?:(?!<!--).)*?-->\s*$", re.MULTILINE | re.DOTALL), ""),  # HTML comments
]


def markdown_to_text(text: str) -> str:
    """Markdown reduced to readable text (links, emphasis and code markers removed) for quoting.

    A leading "# Title" stays marked with one "#" so the title can be recognised; other headings
    lose their markers.
    """
    for pattern, repl in _MD_RULES:
        text = pattern.sub(repl, text)
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    for i, line in enumerate(lines):
        if i != first and line.startswith("# "):
            lines[i] = line[2:]
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- bulk


def _parse_bulk(data: bytes, path: Path, suffix: str) -> tuple[list[Document], list[tuple[int, UserError]]]:
    label = str(path)
    base = str(path.resolve()) if path.exists() else label
    text = decode_text(data, label)
    records: Iterable[tuple[int, Any]]
    if suffix == ".csv":
        records = _csv_records(text, label)
    else:
        records = _jsonl_records(text, label)
    docs: list[Document] = []
    errors: list[tuple[int, UserError]] = []
    for lineno, record in records:
        try:
            if isinstance(record, UserError):
                raise record
            docs.append(record_to_document(record, f"{label} line {lineno}", f"{base}#{lineno}"))
        except UserError as exc:
            errors.append((lineno, exc))
    if not docs and not errors:
        raise UserError(f"{label}: no documents in the file")
    return docs, errors


def _jsonl_records(text: str, label: str) -> Iterator[tuple[int, Any]]:
    for lineno, line in enumerate(text.lstrip("\ufeff").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, UserError(f"{label} line {lineno}: not valid JSON ({exc.msg})")
        except RecursionError:
            yield lineno, UserError(f"{label} line {lineno}: not valid JSON (nested too deeply)")


def _csv_records(text: str, label: str) -> Iterator[tuple[int, Any]]:
    # the file is already size-limited; csv's own 128 KiB field limit would refuse long articles
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "text" not in fields:
        raise UserError(f"{label}: CSV needs a header row with a 'text' column (title,text,date,source,url)")
    reader.fieldnames = fields
    for row in reader:
        lineno = reader.line_num  # last physical line of the record (quoted fields may span lines)
        if None in row:
            yield lineno, UserError(f"{label} line {lineno}: more values than header columns")
            continue
        if all(not (v or "").strip() for v in row.values()):
            continue
        yield lineno, row


def record_to_document(record: Any, where: str, path: str) -> Document:
    """A bulk record (dict with title, text, date, source, url, lang) as a Document."""
    if not isinstance(record, dict):
        raise UserError(f"{where}: expected an object with a 'text' field")
    record = {str(k).lower(): v for k, v in record.items()}
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise UserError(f"{where}: missing or empty 'text'")
    for key in ("title", "source", "url", "lang", "place"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise UserError(f"{where}: '{key}' must be a string")
    date = coerce_date(record.get("date"), f"{where}: invalid date {record.get('date')!r}")
    body = normalise_text(text)
    place = (record.get("place") or "").strip()
    source = (record.get("source") or "").strip()
    dl = dates.find_dateline(body)
    if dl:
        body = body[dl.end:].lstrip() or body
        place = place or dl.place
        source = source or dl.source
        date = date or dl.resolve(text=body)
    return Document(
        text=body,
        title=(record.get("title") or "").strip() or first_sentence_title(body),
        date=date,
        source=source,
        url=(record.get("url") or "").strip(),
        lang=(record.get("lang") or "").strip() or lang.detect(body),
        path=path,
        place=place,
    )
