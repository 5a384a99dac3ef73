"""`citebot migrate --to TARGET`: copy a corpus between engines (SQLite <-> PostgreSQL) without embedding anything.

The cached embeddings go first (in batches; keys the target already has are kept), then every document
with its passages in its own transaction, keyed by content hash. A killed migration is resumed by
running it again: documents the target already holds are skipped, nothing is copied twice, and no
vector is ever recomputed (the encoder is never loaded). A target document from the same path with other
content is replaced by the source's, as `add` does (one document per path, never two). Document and
passage ids are kept whenever the target has them free, so `citebot show ID` and citations mean the same on both sides.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import UserError
from . import check_database_url, is_postgres_url, open_storage
from .base import StoredDocument
from .store import Storage

if TYPE_CHECKING:  # pragma: no cover
    from ..settings import Settings

DOCUMENT_BATCH = 50
EMBEDDING_BATCH = 1000


@dataclass
class MigrateReport:
    """What one run copied; ``skipped`` documents were already in the target (an earlier, killed run)."""

    source: str = ""
    target: str = ""
    copied: int = 0
    skipped: int = 0
    passages: int = 0
    embeddings: int = 0
    renumbered: int = 0  # documents whose ids were taken in the target and got new ones
    replaced: int = 0  # target documents from the same path with other content, replaced (add's rule)
    models: set[str] = field(default_factory=set)


def open_target(to: str, settings: "Settings") -> Storage:
    """The store named by ``--to``: a postgresql:// URL, ``sqlite:///abs/path`` or an index directory."""
    to = (to or "").strip()
    if not to:
        raise UserError("--to needs a postgresql:// URL or a SQLite index directory")
    if is_postgres_url(to):
        try:
            to = check_database_url(to)
        except ValueError as exc:
            raise UserError(f"--to: {exc}") from None
        return open_storage(settings, url=to)
    if to.lower().startswith("sqlite:"):
        if not to.lower().startswith("sqlite:///"):
            raise UserError(f"--to {to!r}: write a SQLite target as sqlite:///absolute/path or as a plain directory")
        to = to[len("sqlite://"):]
    elif "://" in to:
        raise UserError(f"--to {to.split('://', 1)[0]!r}: unsupported; use postgresql://... or a SQLite directory")
    home = Path(to).expanduser()
    if home.suffix == ".sqlite3":  # the store file itself was named
        home = home.parent
    return open_storage(settings.replace(home=str(home)), url="")


def migrate(source: Storage, target: Storage, progress: Callable[[MigrateReport], None] | None = None) -> MigrateReport:
    """Copy everything from ``source`` into ``target`` (see the module docstring)."""
    report = MigrateReport(source=source.location, target=target.location)
    if source.location == target.location:
        raise UserError(f"the source and the target are the same store ({source.location})")
    after = ("", "")
    while True:
        rows = source.embeddings.export(after, EMBEDDING_BATCH)
        if not rows:
            break
        by_model: dict[str, dict] = {}
        for row in rows:
            by_model.setdefault(row.model, {})[row.text_hash] = row.vector
        for model, items in by_model.items():
            target.embeddings.put(model, items)
            report.models.add(model)
        report.embeddings += len(rows)
        after = (rows[-1].model, rows[-1].text_hash)
    after_id = 0
    while True:
        batch = source.documents.export(after_id, DOCUMENT_BATCH)
        if not batch:
            break
        for stored in batch:
            _copy_document(stored, target, report)
            if progress:
                progress(report)
        after_id = batch[-1].record.doc_id or after_id
    for model in sorted(report.models):
        target.vectors.sync(model)
    return report


def _copy_document(stored: StoredDocument, target: Storage, report: MigrateReport) -> None:
    record = stored.record
    if target.documents.find(content_hash=record.content_hash) is not None:
        report.skipped += 1
        return
    with target.transaction() as tx:
        if tx.find_document(content_hash=record.content_hash) is not None:  # another migration got there first
            report.skipped += 1
            return
        path = record.document.path
        same_path = tx.find_document(path=path) if path and path != "-" else None
        if same_path is not None:  # add's rule: the same path with new content replaces the old document
            tx.delete_document(same_path)
            report.replaced += 1
        ids_free = record.doc_id is not None and tx.document_info(record.doc_id) is None and not target.documents.passages(
            [p.passage_id for p in record.passages if p.passage_id is not None])
        if not ids_free:
            record = replace(record, doc_id=None, passages=[replace(p, passage_id=None) for p in record.passages])
            report.renumbered += 1
        tx.insert_document(record)
    report.copied += 1
    report.passages += len(record.passages)


# -- the CLI ------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", required=True, metavar="TARGET",
                        help="postgresql://user@host/db (or postgresql:///db?host=/run/postgresql), "
                             "sqlite:///path/to/index or an index directory")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the summary")


def run(args: argparse.Namespace, settings: "Settings") -> int:
    source = open_storage(settings)
    try:
        target = open_target(args.to, settings)
    except BaseException:
        source.close()
        raise
    last = [0]

    def progress(report: MigrateReport) -> None:
        done = report.copied + report.skipped
        if not args.quiet and done - last[0] >= 100:
            last[0] = done
            print(f"  {done} documents ({report.copied} copied, {report.skipped} already there)", file=sys.stderr)

    try:
        report = migrate(source, target, progress)
    finally:
        source.close()
        target.close()
    print(f"copied {report.copied} documents ({report.passages} passages) and {report.embeddings} cached "
          f"embeddings from {report.source} to {report.target}; {report.skipped} documents were already there"
          + (f"; {report.renumbered} got new ids (theirs were taken)" if report.renumbered else "")
          + (f"; {report.replaced} replaced a target document from the same path" if report.replaced else ""))
    if is_postgres_url(args.to):
        print("use it with: CITEBOT_DATABASE_URL=<that URL> citebot ...")
    return 0
