"""Markdown reduced to readable text for quoting: links, emphasis and code markers removed, in linear time."""
from __future__ import annotations

import re
from typing import Callable

# Each inner scan stops at the next opening delimiter ("[", "(", "**", "<!--"), so a file full of unclosed
# ones is read in linear time: with ".+?"/"[^\]]+" a 40 KB line of "[" or "**a " took 4-5 s, 1 MB hours.
_MD_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^```[^\n]*\n|^```\s*$", re.MULTILINE), ""),  # code fences (keep the code)
    (re.compile(r"!\[([^\[\]]*)\]\((?:[^()]|\([^()]*\))*\)"), r"\1"),  # images -> alt text
    (re.compile(r"\[([^\[\]]+)\]\((?:[^()]|\([^()]*\))*\)"), r"\1"),  # links -> link text (url may hold "(x)")
    (re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*)$", re.MULTILINE),
     lambda m: "# " + m.group(1).rstrip(" \t#")),  # normalise headings
    (re.compile(r"(\*\*|__)(?=\S)((?:(?!\1).)+?)(?<=\S)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # italic *x*
    (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])"), r"\1"),  # italic _x_
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # inline code
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.MULTILINE), ""),  # block quotes
    (re.compile(r"^[ \t]{0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE), ""),  # horizontal rules
    (re.compile(r"^<!--(?:(?!<!--).)*?-->\s*$", re.MULTILINE | re.DOTALL), ""),  # HTML comments
]


def markdown_to_text(text: str) -> str:
    """Markdown reduced to readable text (links, emphasis and code markers removed) for quoting.

    A leading "# Title" stays marked with one "#" so the title can be recognised; other headings
    lose their markers.
    """
    for pattern, repl in _MD_RULES:
        text = pattern.sub(repl, text)
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    for i, line in enumerate(lines):
        if i != first and line.startswith("# "):
            lines[i] = line[2:]
    return "\n".join(lines)
