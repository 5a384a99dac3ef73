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


def test_after_adds_removals_and_new_versions_it_says_what_a_fresh_read_says(tmp_path):
    """The calendar and the version chains are kept from one question to the next and only what was added
    is read after a sync; removals make it read everything again. At every step it must agree with a
    fresh read of the store."""
    from retrieval.corpus.versions import Versions

    topics = ["harbour tonnage rose while rail freight volumes fell at the eastern terminals",
              "the central bank held its benchmark rate and cited stubborn services inflation",
              "wheat exports slowed after heavy rains delayed the harvest across the southern plains",
              "the carmaker recalled electric vans over a faulty battery cooling pump",
              "coastal towns rationed water as the reservoir dropped to a record low",
              "the airline added winter routes to three island resorts and two ski towns",
              "miners voted to end a six week strike after a new pay offer",
              "the city council approved a tram extension to the northern suburbs",
              "a drought cut coffee output and pushed futures to a two year high",
              "the shipyard delivered the first of four icebreakers ordered by the coast guard"]

    def story(i: int, version: int, date: str) -> Document:
        body = f"Story {i}: {topics[i]}, officials said on the day. Revision {version} of the report."
        url = f"https://wire.example/{i}" + ("" if version == 1 else f"-v{version}")  # linked by its text alone
        return Document(body, title=f"Story {i}", date=date, source="Wire", url=url)

    def agree(corpus) -> None:
        fresh = Versions(corpus.store)
        kept = corpus.versions
        ids = [d.doc_id for d in corpus.documents()]
        for doc_id in ids:
            assert [d.doc_id for d in kept.chain(doc_id)] == [d.doc_id for d in fresh.chain(doc_id)]
        assert kept.superseded(ids) == fresh.superseded(ids)
        for not_after in (None, "2021-06-30", "2023-01-01"):
            assert kept.newest_date(not_after) == fresh.newest_date(not_after)
        assert kept.any_dated("2022-01-01", "2022-12-31") == fresh.any_dated("2022-01-01", "2022-12-31")

    settings = load_settings(env={}).replace(home=str(tmp_path / "idx"))
    with Corpus.open(settings, embedder=HashEmbedder()) as corpus:
        add = lambda docs: [r.status for r in corpus.add_documents(docs, force=True)]  # noqa: E731
        assert add([story(i, 1, f"2021-0{i + 1}-10") for i in range(5)]) == ["added"] * 5
        agree(corpus)
        assert add([story(1, 2, "2022-03-01"), story(7, 1, "2022-05-05")]) == ["added"] * 2  # one a new version
        agree(corpus)
        assert len(corpus.versions.chain(corpus.documents()[1].doc_id)) == 2
        newest = max(d.doc_id for d in corpus.documents())
        corpus.remove(newest)  # a removal: everything is read again
        agree(corpus)
        assert corpus.versions.newest_date() == "2022-03-01"
        assert add([story(9, 1, "2023-02-02")]) == ["added"]
        agree(corpus)
