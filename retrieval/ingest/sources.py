"""Turn CLI arguments (files, directories, stdin, URLs) into Documents, one source at a time.

Every source either gives documents or one UserError whose one-line message names it, so the caller can
report a bad source and carry on with the rest. A directory is walked without leaving it: a symbolic
link that points outside is reported and skipped unless ``follow_links``; unreadable subdirectories are
reported; only regular files are opened (a named pipe would block forever).
"""
from __future__ import annotations

import errno
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from retrieval.errors import UserError
from retrieval.types import Document

from . import formats
from .fetch import load_url, redact_url
from .options import IngestOptions
from .origin import LinkedArticle, Loaded, Origin
from .telegram import fill_article

SUPPORTED_SUFFIXES = formats.SUPPORTED_SUFFIXES

class Skipped(UserError):
    """Something inside an added directory that was deliberately not read (and why)."""


class LeftOut(UserError):
    """A record a loader read and deliberately did not index, by a documented rule (a Telegram post of
    a few words): reported as ``skipped``, not as an error."""


@dataclass(frozen=True)
class Problem:
    """What a directory walk could not (or would not) read: the entry's path and the one-line error."""

    label: str
    error: UserError


def load_sources(args: Iterable[str], max_bytes: int | None = None,
                 options: IngestOptions | None = None) -> Iterator[tuple[str, list[Document] | Exception]]:
    """For each CLI argument yield (label, documents) per file, or (label, UserError) per failure.

    "-" reads stdin, http(s):// fetches the URL, a directory is walked recursively in sorted order
    (hidden entries skipped, symlink loops safe, unsupported suffixes skipped silently); an explicitly
    named unsupported file is an error. A bulk file (JSON Lines, CSV) with bad lines yields its good
    documents under the file's label and one error per bad line labelled ``FILE line N``. Error
    messages do not repeat the label: "label: message" is the one line to show a user (the CLI), and
    the message alone suits a reply about a file the user just sent (the bot).
    """
    if options is None:
        options = IngestOptions() if max_bytes is None else IngestOptions(max_bytes=max_bytes)
    for arg in args:
        if arg == "-":
            try:
                yield "-", load_stdin(options.max_bytes)
            except UserError as exc:
                yield _bare("-", exc)
            continue
        if re.match(r"(?i)https?://", arg):
            label = redact_url(arg)  # a password in the URL never reaches a message
            try:
                yield from _labelled(label, load_url(arg, options), options)
            except UserError as exc:
                yield _bare(label, exc)
            continue
        path = Path(arg)
        try:
            is_dir = path.is_dir()
            exists = path.exists()
        except (OSError, ValueError) as exc:  # a name too long, a NUL byte
            yield arg, UserError(f"cannot use this path ({getattr(exc, 'strerror', None) or exc})")
            continue
        if is_dir:
            found = False
            for item in walk(path, follow_links=options.follow_links):
                found = True
                if isinstance(item, Problem):
                    yield item.label, item.error
                else:
                    yield from _load_labelled(item, options)
            if not found:
                yield arg, UserError(f"no supported files in this directory ({formats.supported_list()})")
        elif exists:
            yield from _load_labelled(path, options)
        elif path.is_symlink():
            yield arg, UserError("broken symbolic link")
        else:
            yield arg, UserError("no such file or directory")


def _labelled(label: str, loaded: Loaded,
              options: IngestOptions) -> Iterator[tuple[str, list[Document] | Exception]]:
    if loaded.documents or not (loaded.errors or loaded.articles or loaded.skipped):
        yield label, loaded.documents
    for bad in loaded.errors:
        yield _bare(f"{label} line {bad.lineno}", bad.error)
    for record in loaded.skipped:
        yield record.label, LeftOut(record.reason)
    for article in loaded.articles:
        yield from _article(article, options)


def _article(article: LinkedArticle, options: IngestOptions) -> Iterator[tuple[str, list[Document] | Exception]]:
    """A record's linked article, fetched under the same rules as ``add URL`` (address checks, limits);
    when it cannot be fetched, the record's own fallback document (if any) and the one-line error."""
    try:
        docs = load_url(article.url, options).documents
    except UserError as exc:
        if article.fallback is not None:
            yield article.label, [article.fallback]
        yield _bare(article.url, exc)
        return
    yield article.url, [fill_article(doc, article.source, article.date) for doc in docs]


def _load_labelled(path: Path, options: IngestOptions) -> Iterator[tuple[str, list[Document] | Exception]]:
    label = str(path)
    try:
        yield from _labelled(label, load_path(path, options.max_bytes), options)
    except UserError as exc:
        yield _bare(label, exc)
    except OSError as exc:  # permission denied, vanished while walking, ...
        yield label, UserError(f"cannot read: {exc.strerror or exc}")
    except RecursionError:
        yield label, UserError("nested too deeply to read")


def _bare(label: str, exc: UserError) -> tuple[str, UserError]:
    """(label, error) with the label removed from the front of the message, where it is repeated."""
    message = str(exc)
    for prefix in (f"{label}: ", "stdin: " if label == "-" else f"{label}: "):
        if message.startswith(prefix) and len(message) > len(prefix):
            return label, type(exc)(message[len(prefix):])
    return label, exc


def walk(root: Path, follow_links: bool = False) -> Iterator[Path | Problem]:
    """Supported files under ``root``, sorted, hidden names skipped, each directory visited once.

    Yields a Problem for a symbolic link leaving ``root`` (unless ``follow_links``) and for a directory
    that cannot be read.
    """
    seen: set[tuple[int, int]] = set()
    top = root.resolve()

    def outside(path: Path) -> Path | None:
        target = path.resolve()
        return None if target == top or top in target.parents else target

    def visit(directory: Path) -> Iterator[Path | Problem]:
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
        except OSError as exc:
            reason = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else (exc.strerror or str(exc))
            yield Problem(str(directory), UserError(f"cannot read this directory ({reason}); skipped"))
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()
                wanted = is_dir or (entry.is_file() and path.suffix.lower() in SUPPORTED_SUFFIXES)
                if wanted and entry.is_symlink() and not follow_links:
                    target = outside(path)
                    if target is not None:
                        what = "a directory" if is_dir else "a file"
                        yield Problem(str(path), Skipped(f"symbolic link to {what} outside {root} ({target}) not "
                                                         "followed; use --follow-links to follow it"))
                        continue
                if is_dir:
                    yield from visit(path)
                elif wanted:
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
    return plain_documents(data, Origin(path="-", label="-"))


def plain_documents(data: bytes, origin: Origin) -> list[Document]:
    return formats.by_suffix(".txt").load(data, origin).documents  # type: ignore[union-attr]


def load_path(path: Path, max_bytes: int) -> Loaded:
    """Every document in one file and its bad records; raises UserError naming the file."""
    path = Path(path)
    fmt = formats.by_suffix(path.suffix)
    if fmt is None:
        shown = path.suffix.lower() or "(no suffix)"
        raise UserError(f"{path}: unsupported file type {shown}; supported: {formats.supported_list()}")
    data = read_limited(path, max_bytes)
    if not data.strip():
        raise UserError(f"{path}: file is empty")
    where = str(path.resolve()) if path.exists() else str(path)
    return fmt.load(data, Origin(path=where, label=str(path)))


def load_file(path: Path, max_bytes: int) -> list[Document]:
    """Documents in one file; raises UserError naming the file when it (or any of its records) is bad."""
    loaded = load_path(path, max_bytes)
    if loaded.errors:
        first = loaded.errors[0].error
        lines = ", ".join(str(e.lineno) for e in loaded.errors[:5])
        raise UserError(f"{first}" + (f" (bad lines: {lines})" if len(loaded.errors) > 1 else ""))
    return loaded.documents


def read_limited(path: Path, max_bytes: int) -> bytes:
    """File bytes, refusing non-regular files (a FIFO would block) and files above ``max_bytes``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory") from None
    except PermissionError:
        raise UserError(f"{path}: permission denied") from None
    except FileNotFoundError:
        raise UserError(f"{path}: no such file or directory") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise UserError(f"{path}: is a directory")
        if not stat.S_ISREG(st.st_mode):
            kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode)
                    else "a device")
            raise UserError(f"{path}: not a regular file ({kind}); skipped")
        if st.st_size > max_bytes:
            raise UserError(f"{path}: {st.st_size} bytes is over the size limit of {max_bytes} bytes")
        os.set_blocking(fd, True)
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:  # the file grew while we read it
        raise UserError(f"{path}: over the size limit of {max_bytes} bytes")
    return data
