"""`citebot eval`: retrieval quality on labelled data, so "answers you can trust" is a number.

Reads BEIR-format data (corpus.jsonl, queries.jsonl, qrels.tsv) or SQuAD-format data (each question's
relevant passage is the paragraph holding its answer), optionally mixed with distractor documents
(JSONL, Reuters-21578 SGML, Telegram JSON exports), indexes everything through the public
:class:`retrieval.Corpus` API into its own index directory, runs every query and reports nDCG@10,
Recall@10/100, MRR@10 and query latency. Passage hits are aggregated to documents (max score, i.e.
the first time a document appears in the ranking) because the labels are per document.
"""
from .datasets import (EvalDoc, EvalQuery, EvalSet, load_beir, load_distractors, load_jsonl_docs, load_qrels,
                       load_reuters, load_squad, load_telegram)
from .metrics import (Scores, dcg_at_k, dedupe_ranking, mrr_at_k, ndcg_at_k, percentile, recall_at_k,
                      score_rankings)
from .run import (EVAL_URL_PREFIX, EvalResult, add_arguments, build_index, default_home, doc_key, evaluate,
                  forget_query_vectors, format_table, load_evalset, run, run_queries)

__all__ = ["EVAL_URL_PREFIX", "EvalDoc", "EvalQuery", "EvalResult", "EvalSet", "Scores", "add_arguments",
           "build_index", "dcg_at_k", "doc_key", "dedupe_ranking", "default_home", "evaluate", "forget_query_vectors",
           "format_table", "load_beir", "load_distractors", "load_evalset", "load_jsonl_docs", "load_qrels",
           "load_reuters", "load_squad", "load_telegram", "mrr_at_k", "ndcg_at_k", "percentile", "recall_at_k",
           "run", "run_queries", "score_rankings"]
