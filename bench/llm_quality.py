"""LLM answers on XQuAD with a real local model: how much verification keeps, gold answers, latency.

Two parts. (1) Calibration of the support threshold (no LLM needed): for XQuAD questions, a short
claim cut from the gold sentence around the gold answer must score high against its own paragraph, and
an equally long claim cut from another paragraph of the same article must score low; the table shows
both rates per threshold. (2) The real path: llama.cpp's OpenAI-compatible server (llama-cpp-python)
with Gemma 3 270M answers XQuAD questions over the indexed articles; we count generated sentences kept
by verification, whether the gold answer is in the final answer vs in the extractive one, the fallback
reasons, and latency per answer. Kept sentences with their quotes are written to
bench/results/llm_kept_sentences.json for the hand check in docs/llm.md.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

from bench.common import DATA, RESULTS, ROOT

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def _window(sentence: str, answer: str, words: int) -> str:
    """The gold answer with ``words`` words either side, from its sentence (a short model-like claim)."""
    at = sentence.find(answer)
    before = sentence[:at].split()[-words:] if at >= 0 else []
    after = sentence[at + len(answer):].split()[:words] if at >= 0 else sentence.split()[:2 * words]
    return " ".join(before + ([answer] if at >= 0 else []) + after).strip(" ,;:.!?") + "."


_WH = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
_AUX = {"is", "was", "are", "were", "did", "does", "do", "has", "have", "had", "many", "much", "long", "of", "in"}


def _statement(question: str, answer: str) -> str:
    """A model-style claim from a question and its answer: "Who was the MVP?" + "Von Miller" ->
    "Von Miller the MVP." (words from the question, not the passage: a paraphrase, not a copy)."""
    words = question.rstrip(" ?").split()
    while words and words[0].lower().strip(",") in _WH | _AUX:
        words = words[1:]
    return f"{answer} {' '.join(words)}".strip(" ,;:.!?") + "."


def calibrate(articles: list[dict], encode, limit: int, style: str = "statement") -> dict:
    """Support scores of positive (own paragraph) and negative (other paragraph) claims."""
    from retrieval.generate.verify import best_support, verify
    from retrieval.text.passages import split_sentences
    from retrieval.types import Citation

    rng = random.Random(7)
    pos, neg, pos_facts, neg_facts = [], [], [], []
    for art in articles:
        paragraphs = art["paragraphs"]
        for pi, para in enumerate(art["paragraphs"]):
            for qa in para["qas"]:
                gold = qa["answers"][0]["text"]
                sentences = [para["context"][s:e] for s, e in split_sentences(para["context"])]
                holding = next((s for s in sentences if gold in s), None)
                others = [j for j in range(len(paragraphs)) if j != pi]
                if holding is None or not others:
                    continue
                other = art["paragraphs"][rng.choice(others)]
                other_qa = rng.choice(other["qas"])
                if style == "window":  # a copy: the gold answer with six words either side, from its sentence
                    other_sentences = [other["context"][s:e] for s, e in split_sentences(other["context"])]
                    claim_pos = _window(holding, gold, 6)
                    claim_neg = _window(rng.choice(other_sentences), "", 6 + len(gold.split()) // 2)
                else:  # a paraphrase: the question turned into a statement with its answer
                    claim_pos = _statement(qa["question"], gold)
                    claim_neg = _statement(other_qa["question"], other_qa["answers"][0]["text"])
                cite = Citation(1, 0, 0, art["title"], None, "", "", para["context"], 1.0)
                for claim, bucket, facts_ok in ((claim_pos, pos, pos_facts), (claim_neg, neg, neg_facts)):
                    # the support score alone, and whether the fact checks (numbers, dates, names) pass
                    (score, _), = best_support([claim], [sentences], encode)
                    bucket.append(score)
                    verdicts = verify(f"{claim} [1]", [cite], encode, 0.0).verdicts
                    facts_ok.append(bool(verdicts) and all(v.kept for v in verdicts))
                if len(pos) >= limit:
                    break
            if len(pos) >= limit:
                break
        if len(pos) >= limit:
            break
    def share(scores, facts, t, with_facts):
        return round(sum(s >= t and (f or not with_facts) for s, f in zip(scores, facts)) / len(scores), 3)

    rows = [{"threshold": t, "positives_kept": share(pos, pos_facts, t, False),
             "negatives_kept": share(neg, neg_facts, t, False),
             "positives_kept_with_facts": share(pos, pos_facts, t, True),
             "negatives_kept_with_facts": share(neg, neg_facts, t, True)} for t in THRESHOLDS]
    return {"pairs": len(pos), "positive_median": round(statistics.median(pos), 3),
            "negative_median": round(statistics.median(neg), 3),
            "positive_facts_pass": round(sum(pos_facts) / len(pos), 3),
            "negative_facts_pass": round(sum(neg_facts) / len(neg), 3), "rows": rows}


_AUXILIARIES = ("is", "was", "are", "were", "has", "had", "have", "will", "would", "can", "could", "did",
                "does", "should", "may", "might", "must")
_NEW_CHECKS = ("negates", "affirms", "another role")


def _negated(claim: str) -> str | None:
    """The claim with its negation flipped: "not" added after its first auxiliary, or removed."""
    words = claim.split()
    for i, w in enumerate(words):
        if w.lower() in ("not", "never"):
            return " ".join(words[:i] + words[i + 1:])
    for i, w in enumerate(words):
        if w.lower() in _AUXILIARIES:
            return " ".join(words[:i + 1] + ["not"] + words[i + 1:])
    return None


def _names(text: str) -> list[str]:
    """The names of ``text``: runs of capitalised words after its first word ("Pittsburgh Steelers" is one)."""
    from retrieval.generate.facts import NOT_NAMES
    from retrieval.text.lexical import STOPWORDS

    names, run = [], []
    for i, raw in enumerate(text.split()):
        word = raw.strip(".,;:!?()\"'")
        capital = (i > 0 and word[:1].isupper() and word.isalpha() and word.lower() not in STOPWORDS
                   and word.lower() not in NOT_NAMES)
        if capital:
            run.append(word)
        if run and (not capital or raw != raw.rstrip(".,;:!?)\"'")):
            names.append(" ".join(run))
            run = []
    if run:
        names.append(" ".join(run))
    return [n for n in dict.fromkeys(names) if len(n) > 2]


def _role_swaps(claim: str, holding: str, paragraph: str, rng: random.Random) -> dict[str, str]:
    """Planted role errors built from names the cited paragraph holds (so the fact check passes): two names
    of the claim swapped ("swap"), one name replaced by another name of the same sentence ("in sentence",
    the issue's "Ukraine foreign ministry") or of another sentence of the paragraph ("in paragraph")."""
    out = {}
    names = _names(claim)
    if len(names) >= 2:
        a, b = names[0], names[1]
        out["role swap"] = re.sub(rf"\b({re.escape(a)}|{re.escape(b)})\b", lambda m: b if m.group(1) == a else a, claim)
    in_sentence = [n for n in _names(holding) if n not in names]
    elsewhere = [n for n in _names(paragraph) if n not in names and n not in in_sentence]
    for kind, pool in (("role from the sentence", in_sentence), ("role from the paragraph", elsewhere)):
        if names and pool:
            out[kind] = re.sub(rf"\b{re.escape(names[0])}\b", rng.choice(pool), claim, count=1)
    return {k: c for k, c in out.items() if c != claim}


def planted(articles: list[dict], encode, limit: int, min_support: float) -> dict:
    """What verification keeps of true claims (question-statement paraphrases and copied windows) and of
    planted negations and role swaps, with the checks of retrieval.generate.consistency and without them
    (a verdict dropped only by them counts as kept without them)."""
    from retrieval.generate.verify import verify
    from retrieval.text.passages import split_sentences
    from retrieval.types import Citation

    rng = random.Random(23)
    sets: dict[str, list[tuple[str, Citation]]] = {"paraphrase": [], "window": [], "negation": [], "role swap": [],
                                                   "role from the sentence": [], "role from the paragraph": []}
    for art in articles:
        for para in art["paragraphs"]:
            cite = Citation(1, 0, 0, art["title"], None, "", "", para["context"], 1.0)
            sentences = [para["context"][s:e] for s, e in split_sentences(para["context"])]
            for qa in para["qas"]:
                gold = qa["answers"][0]["text"]
                holding = next((x for x in sentences if gold in x), None)
                if holding is None:
                    continue
                window = _window(holding, gold, 6)
                sets["paraphrase"].append((_statement(qa["question"], gold), cite))
                sets["window"].append((window, cite))
                flipped = _negated(window)
                if flipped:
                    sets["negation"].append((flipped, cite))
                for kind, claim in _role_swaps(window, holding, para["context"], rng).items():
                    sets[kind].append((claim, cite))
        if len(sets["window"]) >= limit:
            break
    out = {}
    for name, claims in sets.items():
        kept = kept_without = 0
        for claim, cite in claims:
            verdicts = verify(f"{claim} [1]", [cite], encode, min_support).verdicts
            kept += bool(verdicts) and all(v.kept for v in verdicts)
            kept_without += bool(verdicts) and all(v.kept or any(k in v.reason for k in _NEW_CHECKS) for v in verdicts)
        out[name] = {"claims": len(claims), "kept": round(kept / max(1, len(claims)), 3),
                     "kept_without_new_checks": round(kept_without / max(1, len(claims)), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=30, help="questions sent to the model (default 30)")
    parser.add_argument("--articles", type=int, default=12, help="XQuAD articles indexed (default 12)")
    parser.add_argument("--calibration", type=int, default=300, help="claim pairs for the threshold table")
    parser.add_argument("--home", type=Path, default=RESULTS / "llm-index")
    parser.add_argument("--skip-calibration", action="store_true")
    parser.add_argument("--planted-only", action="store_true",
                        help="only the claim sets: paraphrases and copies kept vs planted negations and role swaps")
    parser.add_argument("--url", help="use this OpenAI-compatible server instead of starting llama.cpp")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    from retrieval import Corpus, Document, load_settings
    from retrieval.generate import generate
    from tests.fakes import llama_server

    squad = json.loads((DATA / "xquad" / "xquad.en.dev.json").read_text(encoding="utf-8"))["data"]
    articles = squad[:args.articles]
    base = load_settings().replace(home=str(args.home), llm_url="")
    extractive = Corpus.open(base)
    docs = [Document(text=p["context"], title=a["title"].replace("_", " "), source="Wikipedia (XQuAD)",
                     path=f"xquad:{a['title']}:{i}", lang="en")
            for a in articles for i, p in enumerate(a["paragraphs"])]
    list(extractive.add_documents(docs, force=True))
    encode = extractive.encoder.sentences

    result: dict = {"min_support": base.llm_min_support}
    t0 = time.perf_counter()
    sets = result["planted"] = planted(articles, encode, args.calibration, base.llm_min_support)
    print(f"Verification on XQuAD en claim sets at min support {base.llm_min_support} "
          f"({time.perf_counter() - t0:.0f} s): kept with the negation/role checks (without them)")
    for name, row in sets.items():
        print(f"  {name:<24} {row['claims']:>4} claims  kept {row['kept']:.3f} ({row['kept_without_new_checks']:.3f})")
    if args.planted_only:
        _write(result)
        return 0
    for style in ("statement", "window")[: 0 if args.skip_calibration else 2]:
        t0 = time.perf_counter()
        calibration = result[f"calibration_{style}"] = calibrate(articles, encode, args.calibration, style)
        print(f"Support threshold calibration on XQuAD en, {style} claims ({calibration['pairs']} pairs, "
              f"{time.perf_counter() - t0:.0f} s): median support own paragraph {calibration['positive_median']}, "
              f"other paragraph {calibration['negative_median']}")
        print(f"  fact checks pass: own paragraph {calibration['positive_facts_pass']}, "
              f"other paragraph {calibration['negative_facts_pass']}")
        print("  threshold: kept from the cited paragraph / from another paragraph (support alone; with fact checks)")
        for row in calibration["rows"]:
            print(f"    {row['threshold']:.2f}: {row['positives_kept']:.3f} / {row['negatives_kept']:.3f};  "
                  f"{row['positives_kept_with_facts']:.3f} / {row['negatives_kept_with_facts']:.3f}")

    server = None
    if not args.url:
        missing = llama_server.available()
        if missing:
            print(f"LLM part skipped: {missing}")
            _write(result)
            return 0
        RESULTS.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        server = llama_server.LlamaServer(log=RESULTS / "llama_server.log").start()
        print(f"llama.cpp server with Gemma 3 270M Q4_K_M up in {time.perf_counter() - t0:.1f} s at {server.url}")
    url = args.url or server.url
    generative = Corpus.open(base.replace(llm_url=url, llm_timeout=args.timeout, llm_max_tokens=args.max_tokens), embedder=extractive.embedder)
    questions = [(qa["question"], [a["text"] for a in qa["answers"]]) for a in articles
                 for p in a["paragraphs"] for qa in p["qas"]]
    step = max(1, len(questions) // args.questions)
    sample = questions[::step][:args.questions]
    records, kept_sentences = [], []
    try:
        for question, golds in sample:
            t0 = time.perf_counter()
            ex = extractive.ask(question)
            run = generate(ex, generative.settings, encode)  # what Corpus.ask does, with its workings
            gen, seconds = run.answer, time.perf_counter() - t0  # retrieval + generation + verification
            generated = (len(gen.sentences) if gen.mode == "generative" else 0) + gen.dropped
            records.append({
                "question": question, "golds": golds, "answered": ex.answered, "mode": gen.mode,
                "fallback": gen.fallback, "generated": generated,
                "kept": len(gen.sentences) if gen.mode == "generative" else 0, "seconds": round(seconds, 2),
                "gold_in_extractive": ex.answered and any(g in ex.answer for g in golds),
                "gold_in_final": gen.answered and any(g in gen.answer for g in golds),
                "answer": gen.answer, "output": run.output,
                "verdicts": [{"sentence": v.claim.text, "citations": v.claim.citations, "kept": v.kept,
                              "reason": v.reason, "support": round(v.support, 3)}
                             for v in (run.verification.verdicts if run.verification else [])],
            })
            if gen.mode == "generative":
                for s in gen.sentences:
                    kept_sentences.append({"question": question, "sentence": s.text, "citations": s.citations,
                                           "support": round(s.support, 3), "quote": s.quote, "golds": golds})
            print(f"  {seconds:5.1f} s  {gen.mode:<10} kept {records[-1]['kept']}/{generated}  "
                  f"{gen.fallback or ''}  {question[:60]}", flush=True)
    finally:
        if server is not None:
            server.stop()

    answered = [r for r in records if r["answered"]]
    generated = sum(r["generated"] for r in records)
    kept = sum(r["kept"] for r in records)
    llm_latencies = [r["seconds"] for r in answered]
    fallbacks: dict[str, int] = {}
    for r in answered:
        key = r["fallback"] or "generative"
        fallbacks[key] = fallbacks.get(key, 0) + 1
    result.update({
        "questions": len(records), "answered_by_retrieval": len(answered),
        "generated_sentences": generated, "kept_sentences": kept,
        "kept_share": round(kept / generated, 3) if generated else None,
        "answers_generative": sum(r["mode"] == "generative" for r in records),
        "outcomes": fallbacks,
        "gold_in_extractive": round(sum(r["gold_in_extractive"] for r in records) / len(records), 3),
        "gold_in_final": round(sum(r["gold_in_final"] for r in records) / len(records), 3),
        "latency_s_p50": round(statistics.median(llm_latencies), 2) if llm_latencies else None,
        "latency_s_p95": round(sorted(llm_latencies)[int(0.95 * (len(llm_latencies) - 1))], 2) if llm_latencies else None,
        "records": records,
    })
    print(f"Gemma 3 270M via llama.cpp on {len(records)} XQuAD en questions ({len(answered)} answered by retrieval)")
    for key in ("generated_sentences", "kept_sentences", "kept_share", "answers_generative", "outcomes",
                "gold_in_extractive", "gold_in_final", "latency_s_p50", "latency_s_p95"):
        print(f"  {key:<22} {result[key]}")
    _write(result, kept_sentences)
    return 0


def _write(result: dict, kept: list | None = None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "llm_quality.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    if kept is not None:
        (RESULTS / "llm_kept_sentences.json").write_text(json.dumps(kept, indent=2, ensure_ascii=False))
    print(f"wrote {RESULTS / 'llm_quality.json'}")


if __name__ == "__main__":
    sys.exit(main())
