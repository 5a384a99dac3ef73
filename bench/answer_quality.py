"""Answer quality on XQuAD per language pair: does `ask` quote the sentence that states the answer, and
does it stay quiet when the corpus does not hold the answer?

Protocol (the dev set is XQuAD articles 1-24, the 632 questions of the shared file):
- three language pairs: en→en (English paragraphs + Reuters distractors, English questions), ru→ru
  (Russian paragraphs + Telegram distractors), ru→en (the Russian questions over the English index;
  the gold answer is the English one, matched by question id);
- two folds: fold A indexes the paragraphs of articles 1-12, fold B those of 13-24 (plus the same
  distractors). In each fold the questions of the indexed articles are answerable and those of the
  other twelve are not, so every dev question is asked once as answerable and once as unanswerable.

Every rate is a share of ALL questions on its side (one definition, no "among answered"):
- quoted: answerable questions whose quoted answer sentences contain a gold answer (the primary metric);
- cite1: answerable questions whose citation [1] passage contains a gold answer (answered or not);
- answered: answerable questions answered;
- unans_answered: unanswerable questions answered (wrongly).
Gold containment is a case-sensitive substring test on the answer text (what the user reads), so a
longer quote can only help: the mean quoted words are printed next to it. Prints a table and writes
bench/results/answer_quality.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from bench.common import DATA, RESULTS

PAIRS = ("en-en", "ru-ru", "ru-en")
FOLDS = {"A": (0, 12), "B": (12, 24)}


@dataclass
class Question:
    qid: str
    text: str
    golds: list[str]
    article: int


def load_questions(question_lang: str, gold_lang: str, articles: range) -> list[Question]:
    """XQuAD questions in ``question_lang`` with the gold answers of ``gold_lang`` (same ids)."""
    def read(lang: str) -> list[dict]:
        return json.loads((DATA / "xquad" / f"xquad.{lang}.dev.json").read_text(encoding="utf-8"))["data"]

    gold = {qa["id"]: [a["text"] for a in qa["answers"]]
            for art in read(gold_lang) for p in art["paragraphs"] for qa in p["qas"]}
    return [Question(qa["id"], qa["question"], gold[qa["id"]], a)
            for a, art in enumerate(read(question_lang)) if a in articles
            for p in art["paragraphs"] for qa in p["qas"]]


def build_index(lang: str, fold: str, distractors: int, work: Path, settings_env: dict | None = None):
    """A corpus of one fold's XQuAD paragraphs (``lang``) plus distractors; reused when present."""
    from retrieval import Corpus, Document, load_settings
    from retrieval.eval import load_reuters, load_telegram

    lo, hi = FOLDS[fold]
    squad = json.loads((DATA / "xquad" / f"xquad.{lang}.dev.json").read_text(encoding="utf-8"))["data"]
    settings = load_settings(env=settings_env).replace(home=str(work / f"{lang}-{fold}-{distractors}"))
    corpus = Corpus.open(settings)
    if corpus.store.counts().documents:
        return corpus, 0.0
    docs = [Document(text=p["context"], title=art["title"].replace("_", " "), source="Wikipedia (XQuAD)",
                     path=f"xquad:{art['title']}:{i}", lang=lang)
            for art in squad[lo:hi] for i, p in enumerate(art["paragraphs"])]
    extra = []
    files = (sorted((DATA / "reuters21578").glob("reut2-*.sgm")) if lang == "en"
             else sorted((DATA / "tg_news_ru" / "raw").glob("*.json")))
    for path in files:
        extra.extend(load_reuters(path) if lang == "en" else load_telegram(path)[:100])
        if len(extra) >= distractors:
            break
    docs += [Document(text=d.text, title=d.title, date=d.date, source=d.source, path=d.key, lang=lang)
             for d in extra[:distractors]]
    started = time.perf_counter()
    for _ in corpus.add_documents(docs, force=True):
        pass
    return corpus, time.perf_counter() - started


def record(answer: Any, q: Question) -> dict[str, Any]:
    quoted = " ".join(text for text, _ in answer.sentences) if answer.answered else ""
    return {
        "qid": q.qid, "question": q.text, "golds": q.golds, "answered": bool(answer.answered),
        "confidence": float(answer.confidence),
        "quoted": answer.answered and any(g in answer.answer for g in q.golds),
        "cite1": bool(answer.citations) and any(g in answer.citations[0].passage for g in q.golds),
        "quoted_words": len(quoted.split()),
        "answer": answer.answer if answer.answered else "",
    }


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ans = [r for r in rows if r["side"] == "answerable"]
    una = [r for r in rows if r["side"] == "unanswerable"]

    def share(items, key):
        return round(sum(1 for r in items if r[key]) / len(items), 4) if items else 0.0

    answered = [r["quoted_words"] for r in ans if r["answered"]]
    return {
        "answerable": len(ans), "unanswerable": len(una),
        "quoted": share(ans, "quoted"), "cite1": share(ans, "cite1"), "answered": share(ans, "answered"),
        "unans_answered": share(una, "answered"),
        "quoted_words_mean": round(statistics.mean(answered), 1) if answered else 0.0,
    }


def run(pairs: tuple[str, ...], distractors: int, work: Path, limit: int = 0,
        ask: Callable[[Any, str], Any] | None = None, log: Callable[[str], None] = lambda m: None,
        ) -> dict[str, Any]:
    """Ask every dev question of ``pairs`` in both folds; ``ask(corpus, question)`` defaults to Corpus.ask."""
    ask = ask or (lambda corpus, question: corpus.ask(question))
    results: dict[str, Any] = {}
    corpora: dict[tuple[str, str], Any] = {}
    latencies: list[float] = []
    for pair in pairs:
        q_lang, doc_lang = pair.split("-")
        rows: list[dict[str, Any]] = []
        for fold, (lo, hi) in FOLDS.items():
            key = (doc_lang, fold)
            if key not in corpora:
                corpora[key], build_s = build_index(doc_lang, fold, distractors, work)
                if build_s:
                    log(f"  built {doc_lang} fold {fold} in {build_s:.0f} s")
            corpus = corpora[key]
            for side, articles in (("answerable", range(lo, hi)),
                                   ("unanswerable", [a for a in range(24) if not lo <= a < hi])):
                qs = load_questions(q_lang, doc_lang, range(24))
                qs = [q for q in qs if q.article in articles]
                if limit:
                    qs = qs[:limit]
                for q in qs:
                    t0 = time.perf_counter()
                    answer = ask(corpus, q.text)
                    latencies.append((time.perf_counter() - t0) * 1000)
                    rows.append({"side": side, "fold": fold, **record(answer, q)})
        results[pair] = {**summarise(rows), "rows": rows}
        log(f"  {pair}: {json.dumps(summarise(rows))}")
    first = next(iter(corpora.values()))
    meta = {"model": first.embedder.name, "min_score": first.min_score, "distractors": distractors,
            "ask_ms_p50": round(statistics.median(latencies), 1) if latencies else 0.0}
    for corpus in corpora.values():
        corpus.close()
    return {"meta": meta, "pairs": results}


def table(result: dict[str, Any]) -> str:
    lines = ["| | " + " | ".join(result["pairs"]) + " |", "|---" * (1 + len(result["pairs"])) + "|"]
    labels = (("quoted", "answerable: quoted answer contains the gold answer"),
              ("cite1", "answerable: citation [1] contains the gold answer"),
              ("answered", "answerable: answered"),
              ("unans_answered", "unanswerable: answered"),
              ("quoted_words_mean", "mean words quoted (answered)"))
    for key, label in labels:
        cells = []
        for summary in result["pairs"].values():
            v = summary[key]
            cells.append(f"{v:.1f}" if key == "quoted_words_mean" else f"{100 * v:.1f}%")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    counts = ", ".join(f"{p}: {s['answerable']} answerable / {s['unanswerable']} unanswerable"
                       for p, s in result["pairs"].items())
    return "\n".join(lines) + f"\n({counts}; one question = {100 / max(1, next(iter(result['pairs'].values()))['answerable']):.2f} points)"


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distractors", type=int, default=500, help="distractor documents per index (default 500)")
    parser.add_argument("--work", type=Path, default=RESULTS / "answer-idx", help="index directories (reused)")
    parser.add_argument("--pairs", default=",".join(PAIRS), help="comma-separated, of " + ", ".join(PAIRS))
    parser.add_argument("--limit", type=int, default=0, help="questions per fold and side (0 = all)")
    parser.add_argument("--out", type=Path, default=RESULTS / "answer_quality.json")
    args = parser.parse_args(argv)
    pairs = tuple(p.strip() for p in args.pairs.split(",") if p.strip())
    if any(p not in PAIRS for p in pairs):
        parser.error(f"--pairs: choose from {', '.join(PAIRS)}")
    result = run(pairs, args.distractors, args.work, args.limit,
                 log=lambda m: print(m, file=sys.stderr, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    m = result["meta"]
    print(f"Answer quality on XQuAD dev (articles 1-24, two folds of 12 indexed + {m['distractors']} distractor "
          f"documents), model {m['model']}, min_score {m['min_score']}, ask p50 {m['ask_ms_p50']} ms")
    print(table(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
