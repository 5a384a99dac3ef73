"""Near-duplicate detection on Reuters-21578 (../shared/data/reuters21578).

1. False positives: all pairs among N distinct stories (exact duplicates removed) whose estimated
   Jaccard is above THRESHOLD, printed with their exact Jaccard so real re-issues can be told apart.
2. Recall: each story republished with another headline, a trailing paragraph and a few word edits
   must score above THRESHOLD against its original.
3. The same false-positive count on N distinct Russian Telegram posts (../shared/data/tg_news_ru),
   where channels repeat footers ("Подписаться" links) under short posts.

Usage: .venv/bin/python bench/bench_neardup.py [N]
"""
from __future__ import annotations

import glob
import html
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

from retrieval.corpus import neardup

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reuters21578"


def stories(n: int) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for f in sorted(DATA.glob("reut2-*.sgm")):
        raw = f.read_text(encoding="latin-1")
        for m in re.finditer(r"<REUTERS.*?</REUTERS>", raw, re.S):
            block = m.group(0)
            body = re.search(r"<BODY>(.*?)</BODY>", block, re.S)
            title = re.search(r"<TITLE>(.*?)</TITLE>", block, re.S)
            if not body:
                continue
            text = html.unescape(body.group(1)).replace("\x03", "").strip()
            text = re.sub(r"\s*Reuter\s*$", "", text)
            if len(text.split()) < 40 or text in seen:
                continue
            seen.add(text)
            out.append((html.unescape(title.group(1)) if title else "", text))
            if len(out) >= n:
                return out
    return out


def telegram_posts(n: int) -> list[tuple[str, str]]:
    posts: list[str] = []
    for f in sorted(glob.glob(str(DATA.parent / "tg_news_ru" / "raw" / "*.json"))):
        posts += [p["text"] for p in json.load(open(f, encoding="utf-8")) if p.get("text")]
    random.Random(0).shuffle(posts)
    out, seen = [], set()
    for p in posts:
        if p not in seen and len(p.split()) >= 5:
            seen.add(p)
            out.append((p.split("\n", 1)[0][:60], p))
        if len(out) >= n:
            break
    return out


def flagged_pairs(docs: list[tuple[str, str]]) -> list[tuple[int, int, float]]:
    sigs = [neardup.signature(text) for _, text in docs]
    matrix = np.frombuffer(b"".join(sigs), dtype="<u4").reshape(len(sigs), neardup.NUM_PERM)
    flagged = []
    for i in range(len(sigs)):
        sims = (matrix[i + 1:] == matrix[i]).mean(axis=1)
        for j in np.nonzero(sims > neardup.THRESHOLD)[0]:
            flagged.append((i, i + 1 + int(j), float(sims[j])))
    return flagged


def variant(text: str, rng: random.Random) -> str:
    words = text.split()
    for _ in range(max(1, len(words) // 50)):  # ~2% of words edited
        i = rng.randrange(len(words))
        words[i] = words[i].upper() if rng.random() < 0.5 else words[i] + "s"
    return "Another headline for the same story\n\n" + " ".join(words) + (
        "\n\nThis story was updated with comments from officials who declined to be named.")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    docs = stories(n)
    t = time.process_time()
    sigs = [neardup.signature(text) for _, text in docs]
    per_doc = (time.process_time() - t) / len(docs) * 1000
    flagged = flagged_pairs(docs)
    pairs = len(sigs) * (len(sigs) - 1) // 2
    print(f"{len(docs)} distinct Reuters stories, {pairs} pairs, signature {per_doc:.2f} CPU-ms/story")
    print(f"pairs above THRESHOLD={neardup.THRESHOLD}: {len(flagged)}")
    for i, j, s in flagged[:20]:
        a, b = neardup.shingles(docs[i][1]), neardup.shingles(docs[j][1])
        exact = len(a & b) / len(a | b)
        print(f"  est {s:.2f} exact {exact:.2f}: {docs[i][0][:60]!r} / {docs[j][0][:60]!r}")
    rng = random.Random(0)
    sample = docs[:500]
    scores = [neardup.similarity(neardup.signature(text), neardup.signature(variant(text, rng))) for _, text in sample]
    hits = sum(s > neardup.THRESHOLD for s in scores)
    print(f"republished variants detected: {hits}/{len(sample)} (min {min(scores):.2f}, median {np.median(scores):.2f})")
    short = [s for (_, text), s in zip(sample, scores) if len(text.split()) < 80]
    if short:
        print(f"  of which stories under 80 words: {sum(s > neardup.THRESHOLD for s in short)}/{len(short)}")
    posts = telegram_posts(n)
    flagged = flagged_pairs(posts)
    print(f"{len(posts)} distinct Telegram posts: {len(flagged)} pairs above THRESHOLD (inspect: reposts or not)")
    for i, j, s in flagged[:30]:
        print(f"  est {s:.2f}: {posts[i][1][:70]!r} / {posts[j][1][:70]!r}")


if __name__ == "__main__":
    main()
