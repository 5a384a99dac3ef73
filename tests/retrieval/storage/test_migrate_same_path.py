"""`citebot migrate` into a target that already holds a document from the same path (issue 23): add's rule
holds (the source's new content replaces it), never two documents for one path; on both engines."""
from __future__ import annotations

import pytest

from retrieval.settings import load_settings
from retrieval.storage import open_storage
from retrieval.storage.migrate import migrate, open_target
from retrieval.types import Document


def _doc(path: str, words: str) -> Document:
    return Document(text=f"The council said {words}. Officials confirmed it on Monday. No more details were given.",
                    title=f"Council {words}", path=path)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_migrate_replaces_a_target_document_from_the_same_path(make_corpus, tmp_path, request, engine):
    url = request.getfixturevalue("pg_url") if engine == "postgresql" else ""
    source = make_corpus(tmp_path / "source")
    source.add_document(_doc("/news/budget.txt", "the budget passed with new schools money"))
    source.add_document(_doc("/news/roads.txt", "the road works end in May"))
    target = make_corpus(tmp_path / "target", database_url=url)
    target.add_document(_doc("/news/budget.txt", "the budget vote was delayed again"))  # the old version
    target.add_document(_doc("/news/parks.txt", "the parks stay open late"))
    source.close()
    target.close()

    settings = load_settings(env={})
    src = open_storage(settings.replace(home=str(tmp_path / "source")), url="")
    dst = open_target(url or str(tmp_path / "target"), settings)
    try:
        report = migrate(src, dst)
    finally:
        src.close()
        dst.close()
    moved = make_corpus(tmp_path / "target", database_url=url)
    paths = sorted(d.path for d in moved.documents())
    assert paths == ["/news/budget.txt", "/news/parks.txt", "/news/roads.txt"]  # one document per path
    assert (report.copied, report.replaced, report.skipped) == (2, 1, 0)
    budget = moved.document("/news/budget.txt")
    assert "schools money" in moved.document_text(budget.doc_id)
    assert moved.verify().ok
