"""YAML front matter ("---" block at the top of a text or Markdown file): safe, alias-free, bounded."""
from __future__ import annotations

import re
from typing import Any

import yaml

from .dates import coerce_date
from retrieval.errors import UserError

FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)


class _FrontMatterLoader(yaml.SafeLoader):
    """safe_load without anchors/aliases: nine nested aliases ("billion laughs") expand to 9**9 items
    when the title is turned into text, hanging `citebot add`; front matter never needs them."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases are not allowed", event.start_mark)
        return super().compose_node(parent, index)


def split_front_matter(text: str, label: str) -> tuple[dict[str, Any], str]:
    """(metadata with lower-case keys, the text after the block); ({}, text) without front matter."""
    m = FRONT_MATTER.match(text)
    if not m:
        return {}, text
    return parse_front_matter(m.group(1) or "", label), text[m.end():]


def parse_front_matter(raw: str, label: str) -> dict[str, Any]:
    try:
        meta = yaml.load(raw, Loader=_FrontMatterLoader) if raw.strip() else {}  # noqa: S506 - safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise UserError(f"{label}: invalid YAML front matter{where}") from None
    except RecursionError:  # "[[[[…" 10,000 deep: PyYAML composes recursively
        raise UserError(f"{label}: invalid YAML front matter (nested too deeply)") from None
    except ValueError as exc:  # PyYAML builds dates itself: "date: 2024-02-30" fails here
        raise UserError(f"{label}: invalid date in front matter ({exc})") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise UserError(f"{label}: front matter must be key: value pairs")
    meta = {str(k).lower(): v for k, v in meta.items()}
    if "date" in meta and meta["date"] is not None:
        meta["date"] = coerce_date(meta["date"], f"{label}: invalid date {meta['date']!r} in front matter")
    return meta
