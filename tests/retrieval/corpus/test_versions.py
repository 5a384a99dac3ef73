"""The corpus's own calendar (retrieval/corpus/versions.py): "today" is the newest document date not
after a given day, and a period with no dated document is not searched. Both are answered by bisection
over the dates sorted once per store generation; they must say what a scan of every document says."""
from __future__ import annotations

import random

from retrieval import Corpus, Document, load_settings
from tests.fakes.hash_embedder import HashEmbedder


def _scan_newest(infos, not_after):
    return max((d.date for d in infos if d.date and (not not_after or d.date <= not_after)), default=None)


def _scan_any(infos, since, until):
    return any(d.date and since <= d.date[:10] <= until for d in infos)


def test_newest_date_and_dated_periods_agree_with_a_scan_of_every_document(tmp_path):
    rng = random.Random(5)
    days = [f"20{y:02d}-{m:02d}-{d:02d}" for y in (19, 22, 23) for m in (1, 3, 12) for d in (1, 15, 28)]
    docs = []
    for i in range(60):
        day = rng.choice(days)
        date = rng.choice([day, f"{day}T{rng.randint(0, 23):02d}:30:00", ""])  # with a time, or undated
        docs.append(Document(f"Report number {i} on harbour tonnage and rail freight volumes. Figure {i * 7}.",
                             title=f"Report {i}", date=date or None, source="Wire"))
    settings = load_settings(env={}).replace(home=str(tmp_path / "idx"))
    with Corpus.open(settings, embedder=HashEmbedder()) as corpus:
        assert all(r.status == "added" for r in corpus.add_documents(docs, force=True))
        versions = corpus.versions
        probes = [None, "", "2018-01-01", "2030-01-01", *days, *(f"{d}T12:00:00" for d in days[::4])]
        for not_after in probes:
            assert versions.newest_date(not_after) == _scan_newest(corpus.documents(), not_after), not_after
        for _ in range(200):
            since, until = sorted(rng.sample(days + ["2018-06-01", "2029-01-01"], 2))
            assert versions.any_dated(since, until) == _scan_any(corpus.documents(), since, until), (since, until)
        assert not versions.any_dated("2020-01-01", "2021-12-31")  # no document in those years

        later = Document("A later report on harbour tonnage, after the rest.", title="Later", date="2024-06-30",
                         source="Wire")
        assert all(r.status == "added" for r in corpus.add_documents([later], force=True))
        assert versions.newest_date(None) == "2024-06-30"  # a new document moves "today" at once
        assert versions.any_dated("2024-06-01", "2024-06-30")
