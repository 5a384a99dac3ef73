"""The documents part's contract on both engines: ids, the unit of work, the generation, reads and filters."""
from __future__ import annotations

import pytest

from retrieval.errors import UserError
from retrieval.storage import NewDocument, SearchFilters, VerifyReport
from retrieval.text.lexical import query_terms
from retrieval.types import Document

from .conftest import new_document


def test_a_failed_transaction_leaves_nothing_and_keeps_the_generation(store):
    with pytest.raises(RuntimeError):
        with store.transaction() as tx:
            tx.insert_document(new_document("Cats sleep all day.\n\nDogs bark at night."))
            raise RuntimeError("killed mid-write")
    assert store.counts().documents == 0 and store.counts().passages == 0 and store.generation() == 0
    assert store.lexical.search(query_terms("cats"), 5) == []
    with store.transaction() as tx:
        doc_id = tx.insert_document(new_document("Cats sleep all day.\n\nDogs bark at night."))
        assert tx.document_info(doc_id).passages == 2  # reads inside the transaction see its writes
    assert store.generation() == 1 and store.documents.info(doc_id).passages == 2


def test_ids_increase_and_are_never_reused(store):
    with store.transaction() as tx:
        first = tx.insert_document(new_document("One story.\n\nIts second paragraph."))
        second = tx.insert_document(new_document("Another story."))
    before = set(store.documents.passage_ids().tolist())
    with store.transaction() as tx:
        tx.delete_document(second)
    with store.transaction() as tx:
        third = tx.insert_document(new_document("A third story."))
    assert 0 < first < second < third
    fresh = set(store.documents.passage_ids().tolist()) - before
    assert len(fresh) == 1 and min(fresh) > max(before)  # the deleted passage's id is not handed out again
    assert [d.doc_id for d in store.documents.list()] == [first, third]
    assert [d.doc_id for d in store.documents.list(after_id=first)] == [third]  # what came since (caches)
    assert store.documents.list(after_id=third) == []
    assert store.generation() == 3  # one per committed transaction


def test_the_generation_moves_only_with_transactions(store):
    store.set_meta("note", "x")
    store.embeddings.put("m", {"h": [0.6, 0.8]})
    assert store.generation() == 0 and store.get_meta("note") == "x"
    with pytest.raises(ValueError):
        store.set_meta("generation", "7")


def test_reads_by_id_path_and_hash(store):
    with store.transaction() as tx:
        old = tx.insert_document(new_document("Version one.", path="/a.txt", date="2024-01-02"))
        new = tx.insert_document(new_document("Version two.", path="/a.txt"))
    assert store.documents.find(path="/a.txt") == new  # the newest one from that path
    assert store.documents.find(content_hash=store.documents.info(old).content_hash) == old
    assert store.documents.find(path="/nowhere") is None and store.documents.info(10**20) is None
    assert store.documents.text(old).text == "Version one."
    with pytest.raises(UserError, match="no document with id 999"):
        store.documents.text(999)
    assert [d.doc_id for d in store.documents.list(offset=1)] == [new]
    assert [d.doc_id for d in store.documents.list(limit=1)] == [old]
    assert store.documents.span().max_id == new and store.documents.span().count == 2
    rows = store.documents.passages(store.documents.passage_ids().tolist() + [12345])
    assert sorted(r.doc_id for r in rows.values()) == [old, new]  # an absent id is simply missing
    assert rows[min(rows)].date == "2024-01-02" and rows[min(rows)].sentences == [(0, 12)]


def test_filters_dates_inclusive_undated_never_and_source_case_insensitive(store):
    with store.transaction() as tx:
        old = tx.insert_document(new_document("Grain exports resumed.", date="2021-01-05", source="TASS"))
        new = tx.insert_document(new_document("Grain exports stalled.", date="2022-03-10", source="Reuters"))
        undated = tx.insert_document(new_document("Grain exports doubled.", source="TASS"))

    def docs(**f) -> set[int]:
        rows = store.documents.passages(store.documents.passage_ids(SearchFilters(**f)).tolist())
        return {r.doc_id for r in rows.values()}

    assert docs() == {old, new, undated}
    assert docs(since="2022-03-10") == {new} and docs(until="2021-01-05") == {old}
    assert docs(source="tass") == {old, undated} and docs(source="TAS") == set()
    assert docs(source="TASS", since="2022-01-01") == set()


def test_export_gives_back_what_was_inserted(store):
    record = new_document("First paragraph here.\n\nSecond paragraph there.", title="Story", source="TASS")
    with store.transaction() as tx:
        doc_id = tx.insert_document(record)
    [stored] = store.documents.export()
    assert stored.record.doc_id == doc_id and stored.record.content_hash == record.content_hash
    assert stored.record.document.text == record.document.text and stored.record.document.source == "TASS"
    assert [(p.text, p.terms, p.sentences) for p in stored.record.passages] == \
        [(p.text, p.terms, p.sentences) for p in record.passages]
    assert store.documents.export(after_id=doc_id) == []


def test_check_reports_documents_without_passages(store):
    with store.transaction() as tx:
        tx.insert_document(new_document("Has a passage."))
        tx.insert_document(NewDocument(Document("No passages."), content_hash="empty", title_terms=[], passages=[]))
    report = VerifyReport()
    store.documents.check(report)
    assert report.problems == ["1 documents have no passages"]


def test_texts_with_control_characters_and_signatures_come_back_exactly(store):
    """Bulk writes (PostgreSQL's COPY) must not mangle tabs, backslashes, carriage returns or a literal \\N."""
    text = "Col1\tcol2 \\N C:\\temp\\new\r\nend.\n\nSecond\\\\ para\tgraph \\t not a tab."
    signature = bytes(range(256)) * 2  # every byte value, backslash and NUL included
    record = new_document(text, title="Tab\there \\N", path="C:\\docs\\a\tb.txt", source="Src\\x")
    record = NewDocument(record.document, content_hash=record.content_hash, title_terms=record.title_terms,
                         passages=record.passages, signature=signature)
    with store.transaction() as tx:
        doc_id = tx.insert_document(record)
    stored = store.documents.export(0, 10)[0].record
    assert stored.doc_id == doc_id and stored.signature == signature
    assert stored.document.text == text and store.documents.text(doc_id).text == text
    assert (stored.document.title, stored.document.path, stored.document.source) == \
        ("Tab\there \\N", "C:\\docs\\a\tb.txt", "Src\\x")
    assert [p.text for p in stored.passages] == [p.text for p in record.passages]
    assert store.documents.find(path="C:\\docs\\a\tb.txt") == doc_id
