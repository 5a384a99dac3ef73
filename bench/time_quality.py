"""The temporal benchmark (issue 19): latest-state, period, timeline and corroboration questions built
from real dated news, each asked with the time features on and off, with won/lost counts.

How the questions are built (deterministic: no sampling without the fixed seed, no hand-picking):

English, Reuters-21578 (1987). Stories whose title carries a ticker ("Bankamerica <Bac> ...") are grouped
by ticker: one group is one company's stories over the year. Groups with stories on at least 3 distinct
dates in at least 2 distinct months are used (the subject is the company name, the title words before
the ticker in its most frequent form). Per group:
- latest: "What is the latest news on {company}?"; gold: the group's stories of its newest date;
- period: "What did {company} report in {Month} 1987?" for a month of the group that is not its newest
  month (so a recency bias cannot pass it); gold: the group's stories of that month;
- timeline: "How did the {company} story develop?"; gold: the group's dates in order;
English corroboration is simulated, and said so: there is one outlet in Reuters-21578. For a story
whose first sentence holds a number, two syndicated copies are added under other outlet names (the
same text plus a distribution line, as wire copy is republished); the question is "What was reported
about {title}?"; gold: 1 outlet (the wire story and its copies). The naive count (distinct sources
among the cited passages) is the time-off baseline.

Russian, tg_news_ru (24 Telegram channels, 2023-08..2024-12). Subjects are capitalised words in the
middle of a sentence (after a lower-case word or a comma: names and places, not first words) whose stem occurs in 4-40 posts on at least 3 dates in at least 2 months; the
posts holding the stem are the subject's group. latest / period / timeline questions as in English
("Что последнее известно о {subject}?", "Что сообщали о {subject} в {месяц} {год}?", "Как развивались
события вокруг {subject}?"). Corroboration: posts of the same day from different channels sharing
at least 45% of their content words (Jaccard of stems) and a number form an event; the gold outlets are
its channels with near-duplicate copies (MinHash, the corpus's own test) counted once. The question is
"Что сообщили: {first 12 words of the earliest post}?".

Every group's stories are indexed with distractors (other Reuters stories / other posts), with the
default embedder. Questions are split in two halves by a hash of their subject: the recency weights
were tuned on the "tune" half; figures are reported on the "test" half (and both, for the record).

Metrics per kind (each a share of all questions of the kind; "first" is the first quoted citation):
- answered; gold quoted (a quoted citation is a gold document);
- latest: newest-report rate (the first quoted citation is one of the newest stories);
- period: first quoted citation dated in the period, and gold;
- timeline: success (two or more gold dates quoted, in date order), order accuracy (share of pairs of
  quoted dated steps in date order);
- corroboration: claimed outlets (time on: the corroboration count, 1 when none; off: distinct sources
  among cited passages) against gold: exact-count rate, precision and recall of the outlet groups.
Won/lost per kind count questions whose primary metric (newest, period gold, timeline success, exact
count) flips between off and on; noise = sqrt(won + lost) (bench/answer_rules.py).
"""
from __future__ import annotations

import argparse
import hashlib
import math
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import DATA, RESULTS, log, publish

EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
             "October", "November", "December")
RU_MONTHS_PREP = ("январе", "феврале", "марте", "апреле", "мае", "июне", "июле", "августе", "сентябре",
                  "октябре", "ноябре", "декабре")
KINDS = ("latest", "period", "timeline", "corroboration")


@dataclass
class Q:
    """One generated question: its kind, language, text, gold documents (paths) and gold facts."""

    kind: str
    lang: str
    text: str
    subject: str
    gold: list[str]
    since: str = ""
    until: str = ""
    dates: list[str] = field(default_factory=list)  # timeline: the gold dates in order
    outlets: int = 0  # corroboration: gold outlet groups
    outlet_paths: list[list[str]] = field(default_factory=list)

    @property
    def half(self) -> str:
        return "tune" if int(hashlib.sha1(self.subject.encode()).hexdigest(), 16) % 2 == 0 else "test"


@dataclass
class Doc:
    path: str
    text: str
    title: str
    date: str | None
    source: str
    lang: str


# -- English --------------------------------------------------------------------------------------------
_TICKER = re.compile(r"^(?P<name>[A-Za-z][\w&.'\- ]{2,40}?)\s*<(?P<t>[A-Za-z.]+)>")


def english(max_groups: int, distractors: int) -> tuple[list[Doc], list[Q]]:
    from retrieval.eval import load_reuters

    stories = []
    for path in sorted((DATA / "reuters21578").glob("reut2-*.sgm")):
        stories.extend(load_reuters(path))
    groups: dict[str, list] = defaultdict(list)
    names: dict[str, Counter] = defaultdict(Counter)
    for s in stories:
        m = _TICKER.match(s.title)
        if m and s.date:
            t = m["t"].upper()
            groups[t].append(s)
            names[t][m["name"].strip()] += 1
    chosen = [t for t in sorted(groups) if len({s.date for s in groups[t]}) >= 3
              and len({s.date[:7] for s in groups[t]}) >= 2 and len(groups[t]) <= 25]
    chosen = sorted(chosen, key=lambda t: hashlib.sha1(t.encode()).hexdigest())[:max_groups]
    docs: dict[str, Doc] = {}
    questions: list[Q] = []
    for t in chosen:
        company = names[t].most_common(1)[0][0]
        group = sorted(groups[t], key=lambda s: (s.date, s.key))
        for s in group:
            docs[s.key] = Doc(s.key, s.text, s.title, s.date, "Reuters", "en")
        newest = group[-1].date
        questions.append(Q("latest", "en", f"What is the latest news on {company}?", t,
                           [s.key for s in group if s.date == newest]))
        months = sorted({s.date[:7] for s in group} - {newest[:7]})
        if months:
            month = months[int(hashlib.sha1(t.encode()).hexdigest(), 16) % len(months)]
            y, m = int(month[:4]), int(month[5:])
            last = 31 if m in (1, 3, 5, 7, 8, 10, 12) else 30 if m != 2 else 28
            questions.append(Q("period", "en", f"What did {company} report in {EN_MONTHS[m - 1]} {y}?", t,
                               [s.key for s in group if s.date[:7] == month], f"{month}-01", f"{month}-{last:02d}"))
        questions.append(Q("timeline", "en", f"How did the {company} story develop?", t, [s.key for s in group],
                           dates=sorted({s.date for s in group})))
    # corroboration (simulated syndication, see the module docstring)
    used = set(docs)
    pool = [s for s in stories if s.key not in used and s.date and re.search(r"\d", s.text.split(".")[0])
            and 40 <= len(s.text.split()) <= 400]
    pool = sorted(pool, key=lambda s: hashlib.sha1(s.key.encode()).hexdigest())
    for s in pool[:max(20, max_groups // 2)]:
        copies = [s.key]
        docs[s.key] = Doc(s.key, s.text, s.title, s.date, "Reuters", "en")
        for outlet in ("Daily Ledger", "Evening Post"):
            key = f"{s.key}@{outlet}"
            docs[key] = Doc(key, f"{s.text}\n(Distributed by {outlet} from wire reports.)", s.title, s.date, outlet, "en")
            copies.append(key)
        title = re.sub(r"\s*<[^>]*>", "", s.title).lower()
        questions.append(Q("corroboration", "en", f"What was reported about {title}?", s.key, copies,
                           outlets=1, outlet_paths=[copies]))
    rest = [s for s in stories if s.key not in docs]
    rest = sorted(rest, key=lambda s: hashlib.sha1(s.key.encode()).hexdigest())[:distractors]
    for s in rest:
        docs[s.key] = Doc(s.key, s.text, s.title, s.date, "Reuters", "en")
    return list(docs.values()), questions


# -- Russian --------------------------------------------------------------------------------------------
_CAP = re.compile(r"(?<=[а-яёa-z0-9,] )([А-ЯЁ][а-яё]{3,})")  # mid-sentence: a name or a place, not a first word


def russian(max_groups: int, distractors: int) -> tuple[list[Doc], list[Q]]:
    from retrieval.corpus import neardup
    from retrieval.eval import load_telegram
    from retrieval.text.lexical import terms

    posts = []
    for path in sorted((DATA / "tg_news_ru" / "raw").glob("*.json")):
        posts.extend(p for p in load_telegram(path) if p.date and 15 <= len(p.text.split()) <= 300)
    posts = sorted(posts, key=lambda p: p.key)
    stems: dict[str, list] = defaultdict(list)
    surface: dict[str, Counter] = defaultdict(Counter)
    post_terms = {p.key: set(terms(p.text)) for p in posts}
    for p in posts:
        seen = set()
        for m in _CAP.finditer(p.text):
            st = terms(m.group(1))
            if len(st) == 1 and st[0] not in seen:
                seen.add(st[0])
                stems[st[0]].append(p)
                surface[st[0]][m.group(1)] += 1
    chosen = [s for s in sorted(stems) if 4 <= len(stems[s]) <= 40 and len({p.date for p in stems[s]}) >= 3
              and len({p.date[:7] for p in stems[s]}) >= 2]
    chosen = sorted(chosen, key=lambda s: hashlib.sha1(s.encode()).hexdigest())[:max_groups]
    docs: dict[str, Doc] = {}
    questions: list[Q] = []
    for st in chosen:
        word = surface[st].most_common(1)[0][0]
        group = sorted(stems[st], key=lambda p: (p.date, p.key))
        for p in group:
            docs[p.key] = Doc(p.key, p.text, p.title, p.date, p.source, "ru")
        newest = group[-1].date
        questions.append(Q("latest", "ru", f"Что последнее известно про {word}?", st,
                           [p.key for p in group if p.date == newest]))
        months = sorted({p.date[:7] for p in group} - {newest[:7]})
        if months:
            month = months[int(hashlib.sha1(st.encode()).hexdigest(), 16) % len(months)]
            y, m = int(month[:4]), int(month[5:])
            last = 31 if m in (1, 3, 5, 7, 8, 10, 12) else 30 if m != 2 else (29 if y % 4 == 0 else 28)
            questions.append(Q("period", "ru", f"Что сообщали про {word} в {RU_MONTHS_PREP[m - 1]} {y} года?", st,
                               [p.key for p in group if p.date[:7] == month], f"{month}-01", f"{month}-{last:02d}"))
        questions.append(Q("timeline", "ru", f"Как развивались события вокруг {word}?", st, [p.key for p in group],
                           dates=sorted({p.date for p in group})))
    # corroboration: same-day posts of different channels about one event
    by_day: dict[str, list] = defaultdict(list)
    for p in posts:
        if re.search(r"\d", p.text):
            by_day[p.date].append(p)
    events = []
    for day in sorted(by_day):
        items = by_day[day]
        for i, a in enumerate(items):
            mates = [b for b in items if b.source != a.source and b.key != a.key and _jaccard(post_terms[a.key], post_terms[b.key]) >= 0.45]
            if mates and all(a.key not in e for e in events):
                events.append([a.key] + [b.key for b in mates])
    by_key = {p.key: p for p in posts}
    events = sorted(events, key=lambda e: hashlib.sha1(e[0].encode()).hexdigest())[:max(30, max_groups // 2)]
    for event in events:
        items = [by_key[k] for k in event]
        for p in items:
            docs[p.key] = Doc(p.key, p.text, p.title, p.date, p.source, "ru")
        groups = _outlet_groups(items, neardup)
        first = items[0]
        words = " ".join(first.text.split()[:12])
        questions.append(Q("corroboration", "ru", f"Что сообщили: {words}?", first.key, event,
                           outlets=len(groups), outlet_paths=groups))
    rest = sorted((p for p in posts if p.key not in docs), key=lambda p: hashlib.sha1(p.key.encode()).hexdigest())
    for p in rest[:distractors]:
        docs[p.key] = Doc(p.key, p.text, p.title, p.date, p.source, "ru")
    return list(docs.values()), questions


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _outlet_groups(items: list, neardup: Any) -> list[list[str]]:
    """Outlets of an event: one channel's posts, and near-duplicate copies, are one group."""
    sigs = {p.key: neardup.signature(p.text) for p in items}
    parent = {p.key: p.key for p in items}

    def root(k: str) -> str:
        while parent[k] != k:
            k = parent[k]
        return k

    for i, a in enumerate(items):
        for b in items[:i]:
            if a.source == b.source or neardup.similarity(sigs[a.key], sigs[b.key]) > neardup.THRESHOLD:
                parent[root(a.key)] = root(b.key)
    out: dict[str, list[str]] = defaultdict(list)
    for p in items:
        out[root(p.key)].append(p.key)
    return list(out.values())


# -- scoring --------------------------------------------------------------------------------------------
def score(q: Q, answer: Any, paths: dict[int, str], on: bool) -> dict[str, Any]:
    """What one answer achieved for its question (see the module docstring)."""
    in_answer = {n for sentence in answer.sentences for n in sentence.citations}
    quoted = sorted((c for c in answer.citations if c.n in in_answer), key=lambda c: c.n) if answer.answered else []
    first = quoted[0] if quoted else None
    gold = set(q.gold)
    res: dict[str, Any] = {"answered": answer.answered,
                           "gold_quoted": any(paths.get(c.doc_id) in gold for c in quoted)}
    if q.kind == "latest":
        res["primary"] = first is not None and paths.get(first.doc_id) in gold
    elif q.kind == "period":
        res["in_period"] = first is not None and bool(first.date) and q.since <= first.date <= q.until
        res["primary"] = first is not None and paths.get(first.doc_id) in gold
    elif q.kind == "timeline":
        # the quoted steps in answer order (citations in order of first use), gold ones with their dates
        order = [c.n for c in sorted(quoted, key=lambda c: c.n)]
        by_n = {c.n: c for c in quoted}
        dated = [by_n[n].date for n in order if by_n[n].date and paths.get(by_n[n].doc_id) in gold]
        pairs = [(a, b) for i, a in enumerate(dated) for b in dated[i + 1:] if a != b]
        res["order"] = (sum(a < b for a, b in pairs) / len(pairs)) if pairs else None
        res["primary"] = len(set(dated)) >= 2 and all(a <= b for a, b in zip(dated, dated[1:]))
    else:
        groups = [set(g) for g in q.outlet_paths]
        if on:
            corr = answer.time.corroboration if answer.time else None
            cited = ([c for c in answer.citations if c.n in corr.citations] if corr and corr.outlets > 1
                     else quoted[:1])
        else:
            seen, cited = set(), []
            for c in answer.citations:
                if c.source not in seen:
                    seen.add(c.source)
                    cited.append(c)
        claimed = [paths.get(c.doc_id) for c in cited] if answer.answered else []
        hit_groups = {i for i, g in enumerate(groups) for p in claimed if p in g}
        right = sum(1 for p in claimed if any(p in g for g in groups))
        res["precision"] = right / len(claimed) if claimed else None
        res["recall"] = len(hit_groups) / len(groups) if groups else None
        res["primary"] = answer.answered and len(claimed) == q.outlets and len(hit_groups) == q.outlets
    return res


def build(lang: str, docs: list[Doc], work: Path):
    from retrieval import Corpus, Document, load_settings

    digest = hashlib.sha1("\n".join(sorted(f"{d.path} {hashlib.sha1(d.text.encode()).hexdigest()}"
                                             for d in docs)).encode()).hexdigest()[:8]
    settings = load_settings(env={}).replace(home=str(work / f"time-{lang}-{digest}"))  # new questions, new index
    corpus = Corpus.open(settings)
    if corpus.store.counts().documents < len(docs) * 0.9:
        log(f"  indexing {len(docs)} {lang} documents")
        batch = [Document(text=d.text, title=d.title, date=d.date, source=d.source, path=d.path, lang=d.lang)
                 for d in docs]
        list(corpus.add_documents(batch, force=True))
    paths = {d.doc_id: d.path for d in corpus.documents()}
    return corpus, paths


def run(corpus: Any, paths: dict[int, str], questions: list[Q], on: bool, **weights: Any) -> list[dict[str, Any]]:
    corpus.settings = corpus.settings.replace(time_features=on, **weights)
    out = []
    for q in questions:
        answer = corpus.ask(q.text)
        out.append(score(q, answer, paths, on))
    return out


def summarise(qs: list[Q], on: list[dict], off: list[dict]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for kind in KINDS:
        idx = [i for i, q in enumerate(qs) if q.kind == kind]
        if not idx:
            continue
        n = len(idx)
        row: dict[str, Any] = {"n": n}
        for label, res in (("on", on), ("off", off)):
            part = [res[i] for i in idx]
            row[label] = {"answered": sum(r["answered"] for r in part) / n,
                          "gold_quoted": sum(r["gold_quoted"] for r in part) / n,
                          "primary": sum(r["primary"] for r in part) / n}
            if kind == "period":
                row[label]["in_period"] = sum(r["in_period"] for r in part) / n
            if kind == "timeline":
                orders = [r["order"] for r in part if r["order"] is not None]
                row[label]["order"] = sum(orders) / len(orders) if orders else None
            if kind == "corroboration":
                ps = [r["precision"] for r in part if r["precision"] is not None]
                rs = [r["recall"] for r in part if r["recall"] is not None]
                row[label]["precision"] = sum(ps) / len(ps) if ps else None
                row[label]["recall"] = sum(rs) / len(rs) if rs else None
        won = sum(on[i]["primary"] and not off[i]["primary"] for i in idx)
        lost = sum(off[i]["primary"] and not on[i]["primary"] for i in idx)
        row.update(won=won, lost=lost, noise=math.sqrt(won + lost))
        rows[kind] = row
    return rows


PRIMARY = {"latest": "newest report first", "period": "gold of the period first", "timeline": "ordered timeline",
           "corroboration": "exact outlet count"}


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| set | kind | n | primary metric | off | on | won/lost (noise) | gold quoted off → on | answered off → on | extra |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def pct(v: Any) -> str:
        return "–" if v is None else f"{100 * v:.1f}%"

    for name, rows in results.items():
        for kind, r in rows.items():
            extra = ""
            if kind == "period":
                extra = f"first quote in period {pct(r['off']['in_period'])} → {pct(r['on']['in_period'])}"
            elif kind == "timeline":
                extra = f"order accuracy {pct(r['off']['order'])} → {pct(r['on']['order'])}"
            elif kind == "corroboration":
                extra = (f"precision {pct(r['off']['precision'])} → {pct(r['on']['precision'])}, "
                         f"recall {pct(r['off']['recall'])} → {pct(r['on']['recall'])}")
            lines.append(f"| {name} | {kind} | {r['n']} | {PRIMARY[kind]} | {pct(r['off']['primary'])} | "
                         f"{pct(r['on']['primary'])} | +{r['won']}/−{r['lost']} ({r['noise']:.1f}) | "
                         f"{pct(r['off']['gold_quoted'])} → {pct(r['on']['gold_quoted'])} | "
                         f"{pct(r['off']['answered'])} → {pct(r['on']['answered'])} | {extra} |")
    return "\n".join(lines)


def xquad(work: Path, distractors: int) -> dict[str, Any]:
    """XQuAD has no dates: the time features must stay out of its way. Questions without a time intent are
    answered exactly as with the features off (same code path; tests/retrieval/time prove identical
    rankings), so only the questions where the parser finds an intent are asked, on fold A of
    bench/answer_quality (articles 1-12 indexed with its distractors): answerable when their article is
    indexed, unanswerable otherwise. Reported: how many have an intent, and quoted / unanswerable answered
    with the features on and off, with won/lost."""
    from bench.answer_quality import build_index, load_questions
    from retrieval.errors import UserError
    from retrieval.time import parse_intent

    out: dict[str, Any] = {}
    for lang in ("en", "ru"):
        qs = load_questions(lang, lang, range(24))
        timed = []
        for q in qs:
            try:
                intent = parse_intent(q.text, "2000-01-01")
            except UserError:
                timed.append((q, "error"))
                continue
            if intent.active:
                timed.append((q, intent.kind or "timeline"))
        corpus, _ = build_index(lang, "A", distractors, work)
        try:
            rows = {}
            for on in (False, True):
                corpus.settings = corpus.settings.replace(time_features=on)
                res = []
                for q, kind in timed:
                    try:
                        a = corpus.ask(q.text)
                        answered, quoted = a.answered, a.answered and any(g in a.answer for g in q.golds)
                    except UserError:
                        answered, quoted = False, False
                    res.append({"side": "answerable" if q.article < 12 else "unanswerable", "answered": answered,
                                "quoted": quoted})
                rows[on] = res
        finally:
            corpus.close()
        ans = [i for i, r in enumerate(rows[True]) if r["side"] == "answerable"]
        una = [i for i, r in enumerate(rows[True]) if r["side"] == "unanswerable"]
        won = sum(rows[True][i]["quoted"] and not rows[False][i]["quoted"] for i in ans)
        lost = sum(rows[False][i]["quoted"] and not rows[True][i]["quoted"] for i in ans)
        out[lang] = {"questions": len(qs), "with_intent": len(timed), "kinds": dict(Counter(k for _, k in timed)),
                     "answerable": len(ans), "unanswerable": len(una),
                     "quoted_off": sum(rows[False][i]["quoted"] for i in ans),
                     "quoted_on": sum(rows[True][i]["quoted"] for i in ans),
                     "unans_answered_off": sum(rows[False][i]["answered"] for i in una),
                     "unans_answered_on": sum(rows[True][i]["answered"] for i in una),
                     "won": won, "lost": lost}
        log(f"xquad {lang}: {out[lang]}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=80, help="subject groups per language")
    parser.add_argument("--distractors", type=int, default=600)
    parser.add_argument("--work", type=Path, default=RESULTS / "time-idx")
    parser.add_argument("--langs", default="en,ru")
    parser.add_argument("--sweep", action="store_true", help="also sweep the recency weights on the tune half")
    parser.add_argument("--xquad", action="store_true", help="only the XQuAD check (questions with a time intent)")
    args = parser.parse_args(argv)
    if args.xquad:
        result = xquad(RESULTS / "answer-idx", 500)
        publish("time_xquad", result, "\n".join(f"{k}: {v}" for k, v in result.items()))
        return 0
    results: dict[str, dict[str, Any]] = {}
    counts: dict[str, Any] = {}
    sweep: dict[str, Any] = {}
    for lang in args.langs.split(","):
        docs, qs = english(args.groups, args.distractors) if lang == "en" else russian(args.groups, args.distractors)
        counts[lang] = {"documents": len(docs), "questions": dict(Counter(q.kind for q in qs))}
        log(f"{lang}: {len(docs)} documents, questions {dict(Counter(q.kind for q in qs))}")
        corpus, paths = build(lang, docs, args.work)
        try:
            off = run(corpus, paths, qs, False)
            on = run(corpus, paths, qs, True)
            if args.sweep:
                latest = [i for i, q in enumerate(qs) if q.kind == "latest" and q.half == "tune"]
                sub = [qs[i] for i in latest]
                base = [off[i] for i in latest]
                for hl in (3.0, 7.0, 30.0):
                    for w in (0.15, 0.3, 0.6):
                        res = run(corpus, paths, sub, True, recency_half_life_days=hl, recency_weight=w,
                                  recency_sentence_weight=w / 2)
                        won = sum(r["primary"] and not b["primary"] for r, b in zip(res, base))
                        lost = sum(b["primary"] and not r["primary"] for r, b in zip(res, base))
                        sweep[f"{lang} half-life {hl:g} weight {w:g}"] = {"newest": sum(r["primary"] for r in res) / len(res),
                                                                         "won": won, "lost": lost}
                        log(f"  sweep {lang} hl={hl} w={w}: newest {sum(r['primary'] for r in res)}/{len(res)} +{won}/-{lost}")
                from retrieval.time import ask as time_ask

                kept = time_ask.NEWEST_GROUP
                time_ask.NEWEST_GROUP = 0  # ablation: the prior alone, no "newest report that answers" step
                res = run(corpus, paths, sub, True)
                time_ask.NEWEST_GROUP = kept
                won = sum(r["primary"] and not b["primary"] for r, b in zip(res, base))
                lost = sum(b["primary"] and not r["primary"] for r, b in zip(res, base))
                sweep[f"{lang} prior only (no newest-answering step)"] = {
                    "newest": sum(r["primary"] for r in res) / len(res), "won": won, "lost": lost}
                log(f"  ablation {lang} prior only: newest {sum(r['primary'] for r in res)}/{len(res)} +{won}/-{lost}")
                corpus.settings = corpus.settings.replace(recency_half_life_days=7.0, recency_weight=0.3,
                                                          recency_sentence_weight=0.15)
        finally:
            corpus.close()
        for half in ("test", "tune", "all"):
            idx = [i for i, q in enumerate(qs) if half == "all" or q.half == half]
            results[f"{lang} {half}"] = summarise([qs[i] for i in idx], [on[i] for i in idx], [off[i] for i in idx])
    result = {"counts": counts, "results": results, "sweep": sweep}
    publish("time_quality", result, table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
