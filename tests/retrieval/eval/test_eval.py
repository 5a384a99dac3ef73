"""Eval metrics against hand-computed cases, and the eval data loaders on tiny files."""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest

from retrieval.errors import UserError
from retrieval.eval import (
    add_arguments,
    dedupe_ranking,
    load_beir,
    load_distractors,
    load_evalset,
    load_qrels,
    load_reuters,
    load_squad,
    load_telegram,
    mrr_at_k,
    ndcg_at_k,
    percentile,
    recall_at_k,
    score_rankings,
)

# ----------------------------------------------------------------------------- metrics


def test_ndcg_single_relevant_at_rank_three():
    # DCG = 1/log2(4) = 0.5, IDCG = 1/log2(2) = 1
    assert ndcg_at_k(["a", "b", "c"], {"c": 1}, 10) == pytest.approx(0.5)


def test_ndcg_two_relevant_hand_computed():
    # relevant x (rank 1) and y (rank 3): DCG = 1 + 1/log2(4) = 1.5; IDCG = 1 + 1/log2(3)
    expected = 1.5 / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["x", "n", "y"], {"x": 1, "y": 1}, 10) == pytest.approx(expected)
    assert expected == pytest.approx(0.9197, abs=1e-4)


def test_ndcg_graded_uses_linear_gain_and_ideal_order():
    # grades a=2, b=1 ranked b, a: DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3)
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert ndcg_at_k(["b", "a"], {"a": 2, "b": 1}, 10) == pytest.approx(expected)


def test_ndcg_cuts_at_k_and_perfect_is_one():
    assert ndcg_at_k(["n1", "n2", "r"], {"r": 1}, 2) == 0.0
    assert ndcg_at_k(["r1", "r2"], {"r1": 1, "r2": 1}, 10) == pytest.approx(1.0)


def test_ndcg_ideal_is_capped_at_k():
    # 3 relevant, k=2, both top slots relevant -> perfect 1.0 even though one relevant is missing
    assert ndcg_at_k(["a", "b"], {"a": 1, "b": 1, "c": 1}, 2) == pytest.approx(1.0)


def test_recall_counts_share_of_relevant_in_top_k():
    qrels = {"a": 1, "b": 1, "c": 1, "d": 1}
    ranked = ["a", "x", "b", "y", "c"]
    assert recall_at_k(ranked, qrels, 3) == pytest.approx(0.5)
    assert recall_at_k(ranked, qrels, 5) == pytest.approx(0.75)
    assert recall_at_k(ranked, {"z": 0}, 5) == 0.0  # zero grade is not relevant


def test_mrr_is_reciprocal_rank_of_first_relevant_within_k():
    assert mrr_at_k(["x", "y", "a", "b"], {"a": 1, "b": 1}, 10) == pytest.approx(1 / 3)
    assert mrr_at_k(["x", "y", "a"], {"a": 1}, 2) == 0.0


def test_score_rankings_averages_over_judged_queries_missing_ranking_scores_zero():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    scores = score_rankings({"q1": ["a"]}, qrels)  # q2 was never answered
    assert scores.ndcg_at_10 == pytest.approx(0.5)
    assert scores.recall_at_100 == pytest.approx(0.5)
    assert scores.mrr_at_10 == pytest.approx(0.5)


def test_score_rankings_refuses_qrels_without_relevant_documents():
    with pytest.raises(UserError):
        score_rankings({}, {"q": {"a": 0}})


def test_dedupe_keeps_best_passage_position_per_document():
    assert dedupe_ranking(["d1", "d2", "d1", "d3", "d2"]) == ["d1", "d2", "d3"]


def test_percentile_interpolates_like_numpy():
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 50) == pytest.approx(25.0)
    assert percentile(values, 95) == pytest.approx(38.5)
    assert percentile([], 50) == 0.0


# ----------------------------------------------------------------------------- BEIR


def _write_beir(tmp_path: Path) -> tuple[Path, Path, Path]:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        json.dumps({"_id": "d1", "title": "Cats", "text": "Cats sleep a lot."}) + "\n"
        + json.dumps({"_id": "d2", "title": "", "text": "Dogs bark."}) + "\n\n"
        + json.dumps({"_id": "d3", "title": "", "text": ""}) + "\n",
        encoding="utf-8",
    )
    queries = tmp_path / "queries.jsonl"
    queries.write_text(
        json.dumps({"_id": "q1", "text": "do cats sleep"}) + "\n"
        + json.dumps({"_id": "q2", "text": "unjudged query"}) + "\n",
        encoding="utf-8",
    )
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t0\n", encoding="utf-8")
    return corpus, queries, qrels


def test_load_beir_keeps_judged_queries_and_nonempty_docs(tmp_path):
    evalset = load_beir(*_write_beir(tmp_path))
    assert [d.key for d in evalset.docs] == ["d1", "d2"]
    assert evalset.docs[0].title == "Cats"
    assert [q.qid for q in evalset.queries] == ["q1"]
    assert evalset.qrels == {"q1": {"d1": 1, "d2": 0}}


def test_load_beir_bad_json_line_names_file_and_line(tmp_path):
    corpus, queries, qrels = _write_beir(tmp_path)
    corpus.write_text('{"_id": "d1", "text": "ok"}\n{not json\n', encoding="utf-8")
    with pytest.raises(UserError, match=r"corpus.jsonl:2: not valid JSON"):
        load_beir(corpus, queries, qrels)


def test_load_beir_missing_file_is_one_clear_error(tmp_path):
    corpus, queries, _ = _write_beir(tmp_path)
    with pytest.raises(UserError, match="no such file"):
        load_beir(corpus, queries, tmp_path / "missing.tsv")


def test_load_qrels_accepts_trec_four_columns_and_rejects_bad_score(tmp_path):
    trec = tmp_path / "q.trec"
    trec.write_text("q1 0 d1 2\nq1 0 d2 1\n", encoding="utf-8")
    assert load_qrels(trec) == {"q1": {"d1": 2, "d2": 1}}
    bad = tmp_path / "bad.tsv"
    bad.write_text("q1\td1\t1\nq1\td2\thigh\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad.tsv:2"):
        load_qrels(bad)


# ----------------------------------------------------------------------------- SQuAD


def _squad(questions: list[list[tuple[str, str]]], contexts: list[str]) -> dict:
    return {
        "version": "1.1",
        "data": [{
            "title": "Super_Bowl_50",
            "paragraphs": [
                {"context": ctx, "qas": [{"id": qid, "question": q, "answers": []} for qid, q in qs]}
                for ctx, qs in zip(contexts, questions)
            ],
        }],
    }


def test_load_squad_relevant_passage_is_the_paragraph_of_the_question(tmp_path):
    path = tmp_path / "en.json"
    path.write_text(json.dumps(_squad(
        [[("a1", "Who won?")], [("b1", "Where?"), ("b2", "When?")]],
        ["\ufeffThe Broncos won.", "It was played in Santa Clara in February."],
    )), encoding="utf-8")
    evalset = load_squad(path)
    assert [d.text for d in evalset.docs] == ["The Broncos won.", "It was played in Santa Clara in February."]
    assert evalset.docs[0].title == "Super Bowl 50"
    assert evalset.qrels["b2"] == {evalset.docs[1].key: 1}
    assert evalset.qrels["a1"] == {evalset.docs[0].key: 1}


def test_load_squad_cross_lingual_takes_questions_from_translation(tmp_path):
    en = tmp_path / "en.json"
    ru = tmp_path / "ru.json"
    en.write_text(json.dumps(_squad([[("a1", "Who won?")], [("b1", "Where?")]], ["Broncos won.", "Santa Clara."])))
    ru.write_text(json.dumps(_squad([[("a1", "Кто победил?")], [("b1", "Где?")]], ["Победили Бронкос.", "Санта-Клара."])))
    evalset = load_squad(en, questions=ru)
    assert {q.text for q in evalset.queries} == {"Кто победил?", "Где?"}
    assert [d.text for d in evalset.docs] == ["Broncos won.", "Santa Clara."]
    ru_question_a1 = next(q for q in evalset.queries if q.qid == "a1")
    assert evalset.qrels[ru_question_a1.qid] == {evalset.docs[0].key: 1}


def test_load_squad_rejects_other_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(UserError, match="not SQuAD format"):
        load_squad(path)


# ----------------------------------------------------------------------------- distractors

REUTERS_SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" NEWID="7">
<DATE>26-FEB-1987 15:01:01.79</DATE>
<TEXT>&#2;
<TITLE>BAHIA COCOA REVIEW</TITLE>
<DATELINE>    SALVADOR, Feb 26 - </DATELINE><BODY>Showers continued throughout the week in
the Bahia cocoa zone &amp; beyond.
    The dry period means the temporao will be late.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS TOPICS="NO" NEWID="8">
<DATE> 1-MAR-1987 10:00:00.00</DATE>
<TEXT TYPE="BRIEF">&#2;
<TITLE>NO BODY HERE</TITLE>
</TEXT>
</REUTERS>
"""


def test_load_reuters_parses_body_title_date_and_skips_briefs(tmp_path):
    path = tmp_path / "reut2-000.sgm"
    path.write_bytes(REUTERS_SGML.encode("latin-1"))
    docs = load_reuters(path)
    assert len(docs) == 1
    doc = docs[0]
    assert doc.key == "reuters:7"
    assert doc.title == "Bahia Cocoa Review"
    assert doc.date == "1987-02-26"
    assert doc.source == "Reuters"
    assert doc.text == ("Showers continued throughout the week in the Bahia cocoa zone & beyond.\n\n"
                        "The dry period means the temporao will be late.")


def test_load_telegram_posts_skip_empty_and_keep_channel_and_date(tmp_path):
    path = tmp_path / "100_messages.json"
    path.write_text(json.dumps([
        {"message_id": 5, "text": "Заголовок поста\n\nТекст новости.", "date": "2024-12-04T09:00:28+00:00",
         "channel": "Naked Science"},
        {"message_id": 6, "text": "", "date": "2024-12-04T09:00:28+00:00", "channel": "Naked Science"},
        {"message_id": 7, "text": ["Часть ", {"type": "bold", "text": "жирная"}], "date": "2024-12-05T00:00:00"},
    ], ensure_ascii=False), encoding="utf-8")
    docs = load_telegram(path)
    assert [d.key for d in docs] == ["tg:100_messages:5", "tg:100_messages:7"]
    assert docs[0].title == "Заголовок поста"
    assert docs[0].date == "2024-12-04"
    assert docs[0].source == "Naked Science"
    assert docs[1].text == "Часть жирная"


def test_load_distractors_mixes_formats_drops_repeats_and_samples_reproducibly(tmp_path):
    (tmp_path / "reut2-000.sgm").write_bytes(REUTERS_SGML.encode("latin-1"))
    (tmp_path / "extra.jsonl").write_text(
        "\n".join(json.dumps({"_id": str(i), "text": f"story {i % 5}", "title": f"T{i}"}) for i in range(7)),
        encoding="utf-8")  # ids 5 and 6 repeat the texts of 0 and 1
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    every = load_distractors([tmp_path])
    assert len(every) == 6
    assert {d.key for d in every} >= {"reuters:7", "jsonl:extra:0", "jsonl:extra:4"}
    sample = load_distractors([tmp_path], limit=3)
    assert len(sample) == 3
    assert [d.key for d in sample] == [d.key for d in load_distractors([tmp_path], limit=3)]


def test_load_distractors_rejects_unknown_file_type(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(UserError, match="distractors must be"):
        load_distractors([path])
    with pytest.raises(UserError, match="no such file"):
        load_distractors([tmp_path / "missing"])


def test_arguments_need_one_complete_data_source(tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    with pytest.raises(UserError, match="--corpus, --queries and --qrels"):
        load_evalset(parser.parse_args(["--corpus", str(tmp_path / "c.jsonl")]))
    with pytest.raises(UserError, match="either --squad or"):
        load_evalset(parser.parse_args(["--squad", "a.json", "--qrels", "q.tsv"]))
    corpus, queries, qrels = _write_beir(tmp_path)
    args = parser.parse_args(["--corpus", str(corpus), "--queries", str(queries), "--qrels", str(qrels),
                              "--mode", "lexical", "--json"])
    assert args.mode == "lexical" and args.json
    assert [q.qid for q in load_evalset(args).queries] == ["q1"]



# ----------------------------------------------------------------------------- end to end


def _tiny_beir(tmp_path: Path) -> list[str]:
    docs = [
        ("cats", "Feline sleep", "Domestic cats sleep for twelve to sixteen hours every day."),
        ("rain", "Monsoon", "The monsoon brought heavy rain and floods to the coastal villages."),
        ("bank", "Interest rates", "The central bank raised its key interest rate to curb inflation."),
        ("moon", "Lunar volcanoes", "Volcanoes erupted on the far side of the Moon billions of years ago."),
    ]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"_id": k, "title": t, "text": x}) for k, t, x in docs), encoding="utf-8")
    queries = tmp_path / "queries.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in [
        {"_id": "q1", "text": "How many hours a day do cats sleep?"},
        {"_id": "q2", "text": "Why did the central bank raise interest rates?"},
    ]), encoding="utf-8")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\tcats\t1\nq2\tbank\t1\n", encoding="utf-8")
    return ["--corpus", str(corpus), "--queries", str(queries), "--qrels", str(qrels)]


def test_eval_json_reports_metrics_and_rerun_reuses_the_index(tmp_path, embedder, capsys):
    from retrieval import load_settings
    from retrieval.eval import run

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = _tiny_beir(tmp_path) + ["--home", str(tmp_path / "evalindex"), "--json"]
    settings = load_settings(env={})

    assert run(parser.parse_args(argv), settings, embedder=embedder) == 0
    first = json.loads(capsys.readouterr().out)
    for key in ("ndcg@10", "recall@10", "recall@100", "mrr@10", "latency_ms_p50", "latency_ms_p95"):
        assert key in first
    assert first["ndcg@10"] == pytest.approx(1.0)  # both answers are unmistakable
    assert first["added"] == 4 and first["queries"] == 2 and first["mode"] == "hybrid"

    assert run(parser.parse_args(argv + ["--mode", "lexical"]), settings, embedder=embedder) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["added"] == 0  # same index dir: nothing re-added or re-embedded
    assert second["mode"] == "lexical"
    assert second["recall@10"] == pytest.approx(1.0)


def test_eval_text_output_is_a_table_and_distractors_are_indexed(tmp_path, embedder, capsys):
    from retrieval import load_settings
    from retrieval.eval import run

    extra = tmp_path / "extra.jsonl"
    extra.write_text("\n".join(json.dumps({"_id": str(i), "text": f"Football match report number {i}: "
                                            f"the home side won by {i} goals."}) for i in range(3)), encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(_tiny_beir(tmp_path) + ["--distractors", str(extra), "--home", str(tmp_path / "ix"),
                                                     "--mode", "dense"])
    assert run(args, load_settings(env={}), embedder=embedder) == 0
    out = capsys.readouterr().out
    assert "nDCG@10" in out and "Recall@100" in out and "latency p95" in out
    assert "4 + 3 distractors" in out
    assert run(parser.parse_args(_tiny_beir(tmp_path) + ["--distractors", str(extra), "--home", str(tmp_path / "ix"),
                                                         "--json"]), load_settings(env={}), embedder=embedder) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["added"] == 0 and again["distractors"] == 3
    assert again["distractor_passages"] == 3  # one short story, one passage each
    assert again["passages"] == again["distractor_passages"] + 4


def test_a_distractor_with_no_sentence_is_skipped_not_fatal(tmp_path, embedder, capsys):
    """An emoji-only Telegram post (one of the 3,550 distractors of the ru->ru XQuAD eval) has nothing to
    index: the eval skips it and says so, instead of stopping with an error."""
    from retrieval import load_settings
    from retrieval.eval import run

    posts = tmp_path / "channel.json"
    posts.write_text(json.dumps([{"text": "😣", "date": "2024-01-01", "channel": "c"},
                                 {"text": "Футбольный матч закончился победой хозяев поля.", "date": "2024-01-02",
                                  "channel": "c"}], ensure_ascii=False), encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(_tiny_beir(tmp_path) + ["--distractors", str(posts), "--home", str(tmp_path / "ix"),
                                                     "--json"])
    assert run(args, load_settings(env={}), embedder=embedder) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["distractors"] == 2 and result["added"] == 5 and result["ndcg@10"] == pytest.approx(1.0)
    assert "skipped document tg:channel:0" in captured.err


def test_rerun_latency_includes_embedding_the_question(tmp_path, make_corpus):
    """A rerun must not time cached question vectors: the eval forgets them first."""
    from retrieval import Document
    from retrieval.eval import forget_query_vectors

    corpus = make_corpus(home=tmp_path / "ix")
    corpus.add_document(Document(text="Domestic cats sleep for twelve to sixteen hours every day.", title="Cats"))
    question = "How long do cats sleep?"
    corpus.search(question, mode="dense")
    seen = len(corpus.embedder.query_texts)
    corpus.search(question, mode="dense")
    assert len(corpus.embedder.query_texts) == seen  # cached: the model was not asked again
    assert forget_query_vectors(corpus, [question]) == 1
    corpus.search(question, mode="dense")
    assert len(corpus.embedder.query_texts) == seen + 1
    # a passage vector is never forgotten, even when a query has the same text
    assert forget_query_vectors(corpus, ["Cats\nDomestic cats sleep for twelve to sixteen hours every day."]) == 0


def _tiny_squad(tmp_path: Path) -> Path:
    squad = {"version": "1.1", "data": [{"title": "Harbour", "paragraphs": [
        {"context": "The harbour of Valparaiso reopened on Monday after a storm closed it for three days.",
         "qas": [{"id": "h1", "question": "When did the harbour reopen?",
                  "answers": [{"text": "on Monday", "answer_start": 40}]}]},
        {"context": "Domestic cats sleep for twelve to sixteen hours every day.",
         "qas": [{"id": "c1", "question": "How long do cats sleep?",
                  "answers": [{"text": "twelve to sixteen hours", "answer_start": 24}]}]},
    ]}]}
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    return path


def test_eval_never_indexes_into_the_users_corpus(tmp_path):
    """Was: `citebot --home ~/news eval --squad ...` indexed the evaluation set into ~/news (the eval's own
    --home was SUPPRESSed, so the top-level one leaked through)."""
    from tests.runcli import run

    from ...conftest import SEED_ARTICLE

    user = tmp_path / "news"
    assert run(user, "add", str(SEED_ARTICLE)).returncode == 0
    before = run(user, "list", "--json").stdout
    squad = _tiny_squad(tmp_path)
    cache = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    # the top-level --home, CITEBOT_HOME, and a database URL (unreachable: used, it would fail) all name the
    # user's corpus; the eval uses its own index in the cache directory
    for args, env in [(("--home", str(user)), cache), ((), cache | {"CITEBOT_HOME": str(user)}),
                      ((), cache | {"CITEBOT_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/news"})]:
        result = run(None, *args, "eval", "--squad", str(squad), "--json", env=env)
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert data["queries"] == 2 and data["recall@10"] == pytest.approx(1.0)
        assert Path(data["home"]).is_relative_to(tmp_path / "cache")
        assert run(user, "list", "--json").stdout == before
    explicit = tmp_path / "evalindex"
    result = run(user, "eval", "--squad", str(squad), "--home", str(explicit), "--json", env=cache)
    assert result.returncode == 0, result.stderr
    assert Path(json.loads(result.stdout)["home"]) == explicit
    assert run(user, "list", "--json").stdout == before
