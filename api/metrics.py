"""Counters for GET /metrics in the Prometheus text format, kept per server process.

Questions (and how many were answered), a latency histogram of answering, documents ingested by
outcome, and errors by code. Each worker process counts its own requests and labels its lines with
``pid``: scrape every worker (or sum over ``pid``) when running several.
"""
from __future__ import annotations

import os
import threading
from collections import Counter

BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.questions: Counter[str] = Counter()
        self.answered: Counter[str] = Counter()
        self.buckets = [0] * len(BUCKETS)
        self.latency_sum = 0.0
        self.latency_count = 0
        self.ingested: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.requests: Counter[tuple[str, int]] = Counter()

    def question(self, endpoint: str, answered: bool, seconds: float) -> None:
        with self._lock:
            self.questions[endpoint] += 1
            if answered:
                self.answered[endpoint] += 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1
            self.latency_sum += seconds
            self.latency_count += 1

    def ingest(self, status: str) -> None:
        with self._lock:
            self.ingested[status] += 1

    def error(self, code: str) -> None:
        with self._lock:
            self.errors[code] += 1

    def render(self) -> str:
        pid = os.getpid()
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])

        def counters(name: str, help_text: str, label: str, counts: dict[str, int]) -> None:
            family(name, "counter", help_text)
            for value, n in sorted(counts.items()):
                lines.append(f'{name}{{{label}="{value}",pid="{pid}"}} {n}')

        with self._lock:
            counters("citebot_questions_total", "Questions received, by endpoint.", "endpoint", self.questions)
            counters("citebot_questions_answered_total", "Questions the corpus answered, by endpoint.", "endpoint",
                     self.answered)
            total = sum(self.questions.values())
            family("citebot_answered_share", "gauge", "Share of questions answered since the process started.")
            lines.append(f'citebot_answered_share{{pid="{pid}"}} {sum(self.answered.values()) / total if total else 0:.4f}')
            family("citebot_answer_seconds", "histogram", "Time to answer a question.")
            for bound, n in zip(BUCKETS, self.buckets):
                lines.append(f'citebot_answer_seconds_bucket{{le="{bound:g}",pid="{pid}"}} {n}')
            lines.append(f'citebot_answer_seconds_bucket{{le="+Inf",pid="{pid}"}} {self.latency_count}')
            lines.append(f'citebot_answer_seconds_sum{{pid="{pid}"}} {self.latency_sum:.6f}')
            lines.append(f'citebot_answer_seconds_count{{pid="{pid}"}} {self.latency_count}')
            counters("citebot_ingested_documents_total", "Documents sent to POST /v1/documents, by outcome.",
                     "status", self.ingested)
            counters("citebot_errors_total", "Error responses, by error code.", "code", self.errors)
        return "\n".join(lines) + "\n"
