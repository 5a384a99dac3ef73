"""A followed folder, re-scanned on its interval: new and changed files are added (a changed file
replaces its earlier version, as `citebot add` does for a path), and with ``prune`` the documents of
files that disappeared are removed.

A file counts as changed when its size or modification time did; its text decides the rest (the corpus
finds an unchanged text already stored and keeps it).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UserError
from ..ingest import walk
from .model import SeenEntry, Source, SourceResult

if TYPE_CHECKING:  # pragma: no cover
    from ..corpus import Corpus
    from ..storage.sources import Sources

log = logging.getLogger("citebot.sources")

_KEEP_REASONS = ("empty", "no-sentences", "unsupported-format", "duplicate", "near-duplicate")


def sync_folder(corpus: "Corpus", sources: "Sources", source: Source, result: SourceResult) -> None:
    root = Path(source.location)
    if not root.is_dir():
        raise UserError(f"{root}: the folder no longer exists or is not a directory", code="folder_missing")
    files: dict[str, str] = {}
    for item in walk(root, follow_links=False):
        if not isinstance(item, Path):
            result.errors.append(f"{item.label}: {item.error}" if hasattr(item, "label") else str(item))
            continue
        try:
            st = item.stat()
        except OSError:
            continue
        files[str(item.resolve())] = f"{st.st_mtime_ns}:{st.st_size}"
    result.entries = len(files)
    seen = sources.seen(source.id)
    changed = [path for path, sig in files.items() if path not in seen or seen[path].signature != sig]
    result.unchanged = len(files) - len(changed)
    if changed:
        by_file: dict[str, list] = {path: [] for path in changed}
        outcomes = corpus.add_paths(changed)
        for added in outcomes:
            owner = added.path if added.path in by_file else added.path.rsplit("#", 1)[0]
            by_file.setdefault(owner, []).append(added)
        marks: list[SeenEntry] = []
        for path in changed:
            outcomes = by_file.get(path, [])
            doc_id = None
            retry = False
            for added in outcomes:
                if added.status == "added":
                    result.new_doc_ids.append(int(added.doc_id))
                elif added.status == "replaced":
                    result.replaced_doc_ids.append(int(added.doc_id))
                elif added.status == "error":
                    result.errors.append(f"{path}: {added.message}")
                    retry = retry or added.reason not in _KEEP_REASONS
                doc_id = doc_id or (added.doc_id if added.status in ("added", "replaced") else added.duplicate_of)
            if not retry:
                marks.append(SeenEntry(path, files[path], "", doc_id, "file"))
        sources.mark_seen(source.id, marks)
    if source.prune:
        vanished = [key for key in seen if key not in files]
        for key in vanished:
            for ref in ([seen[key].doc_id] if seen[key].doc_id else []) + [key]:
                try:
                    info = corpus.document(ref)
                except UserError:
                    continue  # removed already (by hand, or by the first reference)
                if info.path != key and not info.path.startswith(key + "#"):
                    continue  # the file's text was a duplicate of another file's document: that one stays
                corpus.remove(info.doc_id)
                result.removed_doc_ids.append(info.doc_id)
        sources.forget(source.id, vanished)
