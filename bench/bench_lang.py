"""Language-detection accuracy of retrieval.ingest.lang.detect on real text: Russian Telegram news posts and
English/Russian XQuAD paragraphs and questions from ../shared/data. Prints accuracy per set.

Usage: .venv/bin/python bench/bench_lang.py [N per set]
"""
from __future__ import annotations

import glob
import json
import random
import sys
from collections import Counter
from pathlib import Path

from retrieval.ingest.lang import detect

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def telegram_ru(n: int) -> list[str]:
    posts = []
    for f in sorted(glob.glob(str(DATA / "tg_news_ru" / "raw" / "*.json"))):
        posts += [p["text"] for p in json.load(open(f, encoding="utf-8")) if len(p.get("text") or "") >= 40]
    random.Random(0).shuffle(posts)
    return posts[:n]


def xquad(lang: str, field: str, n: int) -> list[str]:
    data = json.load(open(DATA / "xquad" / f"xquad.{lang}.dev.json", encoding="utf-8"))["data"]
    texts = []
    for art in data:
        for para in art["paragraphs"]:
            if field == "context":
                texts.append(para["context"])
            else:
                texts += [qa["question"] for qa in para["qas"]]
    random.Random(0).shuffle(texts)
    return texts[:n]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    sets = {
        "tg_news_ru posts (ru)": ("ru", telegram_ru(n)),
        "xquad en paragraphs (en)": ("en", xquad("en", "context", n)),
        "xquad ru paragraphs (ru)": ("ru", xquad("ru", "context", n)),
        "xquad en questions (en)": ("en", xquad("en", "question", n)),
        "xquad ru questions (ru)": ("ru", xquad("ru", "question", n)),
    }
    for name, (want, texts) in sets.items():
        got = Counter(detect(t) for t in texts)
        wrong = {k: v for k, v in got.most_common() if k != want}
        print(f"{name}: {got[want]}/{len(texts)} = {got[want] / len(texts):.1%} correct; other labels {wrong}")


if __name__ == "__main__":
    main()
