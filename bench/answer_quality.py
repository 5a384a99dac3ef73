"""Answer quality on XQuAD (English): does `ask` quote the right sentence, and does it stay quiet
when the corpus does not hold the answer?

Paragraphs of XQuAD articles 1-12 are indexed together with Reuters distractor stories; questions about
those articles are answerable, questions about articles 13-24 (not indexed) are not. For each question we
record whether `ask` answered, whether the quoted answer sentences contain the gold answer, and whether
citation [1] holds it. The answer threshold (CITEBOT_MIN_SCORE) is then swept offline over the recorded
best sentence score (Answer.confidence) to show the trade-off. Prints a table and writes bench/results/answer_quality.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distractors", type=int, default=500, help="Reuters stories mixed in (default 500)")
    parser.add_argument("--home", type=Path, default=ROOT / "bench" / "results" / "answer-index")
    parser.add_argument("--questions", type=int, default=0, help="limit questions per side (0 = all)")
    parser.add_argument("--lang", choices=("en", "ru"), default="en",
                        help="XQuAD language; distractors are Reuters stories (en) or Telegram posts (ru)")
    args = parser.parse_args(argv)

    from retrieval import Corpus, Document, load_settings
    from retrieval.eval import load_reuters, load_telegram

    squad = json.loads((DATA / "xquad" / f"xquad.{args.lang}.dev.json").read_text(encoding="utf-8"))["data"]
    indexed, held_out = squad[:12], squad[12:]
    settings = load_settings().replace(home=str(args.home))  # CITEBOT_EMBEDDER etc. apply
    corpus = Corpus.open(settings)
    docs = [Document(text=p["context"], title=a["title"].replace("_", " "), source="Wikipedia (XQuAD)",
                     path=f"xquad:{a['title']}:{i}", lang=args.lang)
            for a in indexed for i, p in enumerate(a["paragraphs"])]
    reuters = []
    files = (sorted((DATA / "reuters21578").glob("reut2-*.sgm")) if args.lang == "en"
             else sorted((DATA / "tg_news_ru" / "raw").glob("*.json")))
    for path in files:
        reuters.extend(load_reuters(path) if args.lang == "en" else load_telegram(path)[:100])
        if len(reuters) >= args.distractors:
            break
    docs += [Document(text=d.text, title=d.title, date=d.date, source=d.source, path=d.key, lang=args.lang)
             for d in reuters[:args.distractors]]
    started = time.perf_counter()
    statuses: dict[str, int] = {}
    for r in corpus.add_documents(docs, force=True):
        statuses[r.status] = statuses.get(r.status, 0) + 1
    build_s = time.perf_counter() - started

    def questions(articles):
        out = [(qa["question"], [a["text"] for a in qa["answers"]]) for art in articles
               for p in art["paragraphs"] for qa in p["qas"]]
        return out[:args.questions] if args.questions else out

    records = []
    latencies = []
    for side, articles in (("answerable", indexed), ("unanswerable", held_out)):
        for question, answers in questions(articles):
            t0 = time.perf_counter()
            answer = corpus.ask(question)
            latencies.append((time.perf_counter() - t0) * 1000)
            records.append({
                "side": side,
                "answered": answer.answered,
                "confidence": answer.confidence,
                "answer_has_gold": answer.answered and any(g in answer.answer for g in answers),
                "first_citation_has_gold": bool(answer.citations) and any(g in answer.citations[0].passage for g in answers),
            })

    def rate(rows, key):
        return sum(1 for r in rows if r[key]) / len(rows) if rows else 0.0

    ans = [r for r in records if r["side"] == "answerable"]
    una = [r for r in records if r["side"] == "unanswerable"]
    result = {
        "model": corpus.embedder.name, "min_score": corpus.min_score, "distractors": args.distractors,
        "documents_indexed": statuses, "build_seconds": round(build_s, 1),
        "answerable_questions": len(ans), "unanswerable_questions": len(una),
        "answered_rate_answerable": round(rate(ans, "answered"), 3),
        "gold_in_answer_rate": round(rate(ans, "answer_has_gold"), 3),
        "gold_in_citation1_rate": round(rate(ans, "first_citation_has_gold"), 3),
        "answered_rate_unanswerable": round(rate(una, "answered"), 3),
        "ask_latency_ms_p50": round(statistics.median(latencies), 1),
        "ask_latency_ms_p95": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
        "threshold_sweep": [],
    }
    for threshold in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9):
        result["threshold_sweep"].append({
            "min_score": threshold,
            "answered_answerable": round(sum(r["confidence"] >= threshold for r in ans) / len(ans), 3),
            "answered_unanswerable": round(sum(r["confidence"] >= threshold for r in una) / len(una), 3),
            "gold_in_citation1_when_answered": round(
                sum(r["first_citation_has_gold"] for r in ans if r["confidence"] >= threshold)
                / max(1, sum(r["confidence"] >= threshold for r in ans)), 3),
        })
    out = ROOT / "bench" / "results" / f"answer_quality-{args.lang}-{result['model']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    kind = "Reuters stories" if args.lang == "en" else "Telegram posts"
    print(f"Answer quality on XQuAD {args.lang} (articles 1-12 indexed + {args.distractors} {kind} as distractors), "
          f"model {result['model']}, min_score {result['min_score']}")
    for key in ("answerable_questions", "answered_rate_answerable", "gold_in_answer_rate", "gold_in_citation1_rate",
                "unanswerable_questions", "answered_rate_unanswerable", "ask_latency_ms_p50", "ask_latency_ms_p95",
                "build_seconds"):
        print(f"  {key:<30} {result[key]}")
    print("  threshold sweep (min_score: answered answerable / answered unanswerable / [1] holds gold)")
    for row in result["threshold_sweep"]:
        print(f"    {row['min_score']:.2f}: {row['answered_answerable']:.3f} / {row['answered_unanswerable']:.3f} / "
              f"{row['gold_in_citation1_when_answered']:.3f}")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
