"""Which PostgreSQL lexical ranking is closest to the SQLite engine's FTS5 BM25 (the reference ranking)?

Compared on XQuAD en, XQuAD ru (every paragraph a passage) and SciFact (the first 2,000 documents of the
corpus, train queries judged on them), per question:

* ``bm25-postings``: what retrieval/storage/lexical/postgres.py does (FTS5's BM25 in SQL over citebot's terms);
* ``simple-ts_rank`` / ``simple-ts_rank_cd``: a ``tsvector`` of the same pre-stemmed terms (``simple``
  configuration, title weight A) ranked by PostgreSQL's ``ts_rank`` / ``ts_rank_cd``;
* ``lang-ts_rank`` / ``lang-ts_rank_cd``: PostgreSQL's own ``english``/``russian`` configurations over the
  raw text (by the dataset's language), queries through the same configuration.

Figures: overlap@10 with FTS5's top 10, and hit@10 (the gold passage in the top 10) as a quality check.
The alternatives' SQL is experiment code and lives only here; the product has only the first.

    .venv/bin/python -m bench.storage_lexical
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import DATA, exit_on_sigterm, log, publish
from retrieval.storage.bm25 import FTS5


# PostgreSQL's ts_rank weight array is {D, C, B, A}: body terms D = 1.0, title terms A = the title weight
# of the one BM25 definition (retrieval/storage/bm25.py), as in FTS5's bm25()
_WEIGHTS = f"'{{1.0, 0, 0, {FTS5.title_weight}}}'"
_ALTERNATIVES = {
    "simple-ts_rank": ("simple_v", f"ts_rank({_WEIGHTS}, {{v}}, q)", "simple"),
    "simple-ts_rank_cd": ("simple_v", f"ts_rank_cd({_WEIGHTS}, {{v}}, q)", "simple"),
    "lang-ts_rank": ("lang_v", f"ts_rank({_WEIGHTS}, {{v}}, q)", "lang"),
    "lang-ts_rank_cd": ("lang_v", f"ts_rank_cd({_WEIGHTS}, {{v}}, q)", "lang"),
}


def _sets(limit_scifact: int = 2000):
    from retrieval.eval import load_beir, load_squad

    out = [(load_squad(DATA / "xquad" / "xquad.en.dev.json"), "english"),
           (load_squad(DATA / "xquad" / "xquad.ru.dev.json"), "russian")]
    sci = load_beir(DATA / "scifact" / "corpus.jsonl", DATA / "scifact" / "queries.jsonl",
                    DATA / "scifact" / "qrels" / "train.tsv", name="scifact")
    sci.docs = sci.docs[:limit_scifact]
    keys = {d.key for d in sci.docs}
    sci.queries = [q for q in sci.queries if set(sci.qrels.get(q.qid, {})) & keys]
    out.append((sci, "english"))
    return out


def run_set(eval_set, config: str, url: str, work: Path) -> dict[str, Any]:
    import psycopg

    from retrieval.text.lexical import query_terms, terms
    from retrieval.storage import NewDocument, NewPassage, open_postgres, open_storage
    from retrieval.types import Document
    from retrieval.settings import load_settings

    sqlite = open_storage(load_settings(env={}).replace(home=str(work / eval_set.name)), url="")
    pg = open_postgres(url)
    key_of: dict[int, str] = {}
    for store in (sqlite, pg):
        with store.transaction() as tx:
            for i, d in enumerate(eval_set.docs):
                text = d.text[:4000]
                doc_id = tx.insert_document(NewDocument(
                    Document(text, title=d.title, path=d.key), content_hash=f"{eval_set.name}-{i}",
                    title_terms=terms(d.title), passages=[NewPassage(0, 0, len(text), text, f"e{i}", [(0, len(text))], terms(text))]))
                key_of[doc_id] = d.key  # same ids on both engines (both start at 1)
    with psycopg.connect(url, autocommit=True) as conn:  # the alternatives' own tsvector columns
        conn.execute("ALTER TABLE passages ADD COLUMN IF NOT EXISTS simple_v tsvector")
        conn.execute("ALTER TABLE passages ADD COLUMN IF NOT EXISTS lang_v tsvector")
        rows = []
        for i, d in enumerate(eval_set.docs):
            rows.append((i + 1, " ".join(terms(d.title)), " ".join(terms(d.text[:4000])), d.title, d.text[:4000]))
        with conn.cursor() as cur:
            cur.executemany(
                f"""UPDATE passages SET
                      simple_v = setweight(to_tsvector('simple', %s), 'A') || to_tsvector('simple', %s),
                      lang_v = setweight(to_tsvector('{config}', %s), 'A') || to_tsvector('{config}', %s)
                    WHERE id = %s""", [(a, b, c, e, i) for i, a, b, c, e in rows])
        results: dict[str, dict[str, float]] = {}
        totals = {name: [0.0, 0.0] for name in ["bm25-postings", *_ALTERNATIVES]}
        counted = 0
        for q in eval_set.queries:
            qterms = query_terms(q.text)
            if not qterms:
                continue
            counted += 1
            gold = set(eval_set.qrels.get(q.qid, {}))
            reference = [h.passage_id for h in sqlite.lexical.search(qterms, 10)]
            ranked = {"bm25-postings": [h.passage_id for h in pg.lexical.search(qterms, 10)]}
            simple_q = " | ".join("'" + t.replace("'", "''") + "'" for t in qterms)
            for name, (column, rank, kind) in _ALTERNATIVES.items():
                if kind == "simple":
                    query = conn.execute("SELECT %s::tsquery", (simple_q,)).fetchone()[0]
                else:  # the configuration's own lexemes of the question, OR-ed
                    lexemes = conn.execute(f"SELECT tsvector_to_array(to_tsvector('{config}', %s))",
                                           (q.text,)).fetchone()[0]
                    query = " | ".join("'" + t.replace("'", "''") + "'" for t in lexemes) or None
                if not query:
                    ranked[name] = []
                    continue
                ranked[name] = [r[0] for r in conn.execute(
                    f"SELECT id FROM (SELECT id, {rank.replace('{v}', column)} AS s FROM passages, to_tsquery('simple', %s) q "
                    f"WHERE {column} @@ q) x ORDER BY s DESC, id LIMIT 10", (str(query),))]
            for name, ids in ranked.items():
                totals[name][0] += len(set(ids) & set(reference)) / max(1, len(reference))
                totals[name][1] += float(bool({key_of.get(i) for i in ids} & gold))
        for name, (overlap, hits) in totals.items():
            results[name] = {"overlap_at_10_with_fts5": round(overlap / max(1, counted), 4),
                             "hit_at_10": round(hits / max(1, counted), 4)}
        fts5_hits = sum(float(bool({key_of.get(h.passage_id) for h in sqlite.lexical.search(query_terms(q.text), 10)}
                                   & set(eval_set.qrels.get(q.qid, {}))))
                        for q in eval_set.queries if query_terms(q.text))
        results["fts5 (reference)"] = {"overlap_at_10_with_fts5": 1.0, "hit_at_10": round(fts5_hits / max(1, counted), 4)}
    sqlite.close()
    pg.close()
    return {"passages": len(eval_set.docs), "questions": counted, "config": config, "rankers": results}


def main(argv: list[str] | None = None) -> int:
    exit_on_sigterm()
    from tests.fakes import postgres as embedded

    server = embedded.start()
    work = Path(tempfile.mkdtemp(prefix="citebot-lexical-"))
    res: dict[str, Any] = {}
    try:
        for eval_set, config in _sets():
            log(f"{eval_set.name}: {len(eval_set.docs)} passages, {len(eval_set.queries)} questions ...")
            res[eval_set.name] = run_set(eval_set, config, server.create_database(f"lex_{len(res)}"), work)
    finally:
        server.stop()
    names = list(next(iter(res.values()))["rankers"])
    lines = ["| ranker | " + " | ".join(f"{n} overlap@10 / hit@10" for n in res) + " |", "|---|" + "---|" * len(res)]
    for name in names:
        cells = [f"{r['rankers'][name]['overlap_at_10_with_fts5']:.3f} / {r['rankers'][name]['hit_at_10']:.3f}"
                 for r in res.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    publish("storage_lexical", res, "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
