"""Answer -> Telegram HTML: escaping, citations, and splitting that the strict parser accepts."""
from __future__ import annotations

import random
import re

import pytest

from bot.render import answer_html, esc, highlight, render_answer, render_hits, split_html, units
from retrieval.types import Answer, Citation, Hit
from tests.fakes.bot_api import ParseError, parse_telegram_html


def citation(n=1, passage="Talks stopped in March 2022. Nothing else happened.", quotes=((0, 28),), **kw):
    base = dict(n=n, doc_id=7, passage_id=70 + n, title="Moscow halts talks", date="2022-03-21",
                source="TASS", url="https://tass.com/politics/1", passage=passage, score=0.8,
                quotes=list(quotes))
    base.update(kw)
    return Citation(**base)


def answered(*cits, sentences=None):
    sentences = sentences if sentences is not None else [("Talks stopped in March 2022.", 1)]
    return Answer("When did talks stop?", True, " ".join(s for s, _ in sentences), list(cits), sentences)


def squash(text: str) -> str:
    return "".join(text.split())


def test_escape_makes_markup_and_control_characters_harmless():
    assert esc('<script>alert("x")</script> & co\x00\x07') == '&lt;script&gt;alert("x")&lt;/script&gt; &amp; co'


def test_answer_shows_sentence_marker_plain_title_linked_source_and_marks_the_quote_without_repeating_it():
    html = answer_html(answered(citation()), "en")
    assert "Talks stopped in March 2022. [1]" in html
    assert "[1] Moscow halts talks\n" in html and "<b>Moscow" not in html
    assert '2022-03-21 · <a href="https://tass.com/politics/1">TASS</a>' in html
    assert "<blockquote expandable><u>Talks stopped in…</u> Nothing else happened.</blockquote>" in html
    assert parse_telegram_html(html).count("Talks stopped in March 2022.") == 1


def test_document_and_question_markup_is_shown_as_text_never_as_tags():
    evil = citation(title="<b>Bold</b> & <script>x</script>", source="<i>Agency</i>",
                    passage="Use <a href='http://evil'>this</a> & <tg-spoiler>that</tg-spoiler>.", quotes=[(0, 10)],
                    url="javascript:alert(1)")
    html = answer_html(answered(evil, sentences=[("Use <a href='http://evil'>this</a>", 1)]), "en")
    visible = parse_telegram_html(html)  # would raise on any tag from the document
    assert "<script>x</script>" in visible and "<a href='http://evil'>this</a>" in visible
    assert "javascript:" not in html  # not a link, and not shown as one
    assert "<i>Agency</i>" in visible


def test_no_answer_is_said_plainly_with_nearest_matches_in_the_users_language():
    weak = Answer("Price of bananas?", False, "No passage answers the question.", [citation(quotes=[])])
    en = answer_html(weak, "en")
    assert en.startswith("I found nothing in the library that answers this.")
    assert "Nearest, not an answer" in en and "· Moscow halts talks · 2022-03-21" in en
    assert "Talks stopped" not in en  # the passages wait behind a button
    ru = answer_html(weak, "ru")
    assert ru.startswith("В библиотеке нет ничего, что отвечает на этот вопрос.")


def test_overlapping_quotes_become_one_bold_span():
    assert highlight("abcdefghij", [(2, 5), (4, 8), (20, 30)]) == "ab<b>cdefgh</b>ij"


def test_long_answer_is_split_into_valid_messages_at_paragraph_boundaries():
    def passage(d: int) -> str:
        return " ".join(f"Report {d} sentence {i} mentions <Kuril> & islands." for i in range(40))

    cits = [citation(n=d, doc_id=d, title=f"Report {d} on the islands", passage=passage(d), quotes=[(0, 48)])
            for d in range(1, 9)]
    answer = answered(*cits, sentences=[(f"Report {d} sentence 0 mentions <Kuril> & islands.", d) for d in range(1, 9)])
    full = answer_html(answer, "en")
    assert len(full) > 3 * 1000
    chunks = render_answer(answer, "en", limit=1000)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert len(chunk) <= 1000
        parse_telegram_html(chunk)
    assert squash("".join(parse_telegram_html(c) for c in chunks)) == squash(parse_telegram_html(full))
    # each source starts a message or follows a blank line: no entry header is torn apart
    assert sum(len(re.findall(r"(?:^|\n\n)\[\d\] Report \d on the islands\n", c)) for c in chunks) == 8


def test_one_huge_paragraph_is_cut_inside_tags_which_are_closed_and_reopened():
    text = "<blockquote><b>" + esc("word & " * 2000) + "</b></blockquote>"
    chunks = split_html(text, 1000)
    assert len(chunks) > 10
    for chunk in chunks:
        assert len(chunk) <= 1000
        assert chunk.startswith("<blockquote><b>") and chunk.endswith("</b></blockquote>")
        parse_telegram_html(chunk)
        assert "&am" not in chunk.replace("&amp;", "")  # never cut inside an entity


@pytest.mark.parametrize("seed", range(25))
def test_random_nested_html_splits_into_parseable_pieces_losing_nothing(seed):
    rng = random.Random(seed)
    tags = ["b", "i", "u", "s", "code", "blockquote", 'a href="https://example.com/?a=1&amp;b=2"']
    parts = []
    for _ in range(rng.randint(20, 120)):
        roll = rng.random()
        if roll < 0.15:
            parts.append("\n\n")
        elif roll < 0.4:
            tag = rng.choice(tags)
            inner = esc(" ".join(rng.choice(["alpha", "бета", "<x>", "&", "δ", "word"]) for _ in range(rng.randint(1, 30))))
            parts.append(f"<{tag}>{inner}</{tag.split()[0]}>")
        else:
            parts.append(esc("".join(rng.choice("abc <>&\n") for _ in range(rng.randint(1, 80)))))
    text = "".join(parts)
    limit = rng.randint(60, 400)
    chunks = split_html(text, limit)
    for chunk in chunks:
        assert len(chunk) <= limit
        assert parse_telegram_html(chunk).strip()
    assert squash("".join(parse_telegram_html(c) for c in chunks)) == squash(parse_telegram_html(text))


def test_strict_parser_rejects_what_telegram_rejects():
    for bad in ["<div>x</div>", "<b>x", "x</b>", "<b><i>x</b></i>", "a < b", "AT&T", "&nbsp;",
                '<a href="javascript:x">y</a>', '<b class="x">y</b>', "<span>x</span>"]:
        with pytest.raises(ParseError):
            parse_telegram_html(bad)
    assert parse_telegram_html('<b>a</b> &lt;&amp;&gt; <span class="tg-spoiler">s</span> a > b') == "a <&> s a > b"


def test_more_sources_page_is_numbered_from_the_offset_and_escapes_the_question():
    hit = Hit(5, 2, 0.5, 0.5, 1.0, "Passage <text>.", 0, 15, "Title", "2024-01-01", "TASS", "")
    html, shown = render_hits([hit, hit], "why <b>?</b>", 4, "en")
    assert shown == 2
    assert "[4] Title\n" in html and "[5] Title\n" in html
    assert "why &lt;b&gt;?&lt;/b&gt;" in html
    parse_telegram_html(html)


def test_emoji_count_twice_as_telegram_counts_utf16_units():
    text = "<b>" + "😀" * 3000 + "</b>"  # 3007 characters, 6007 UTF-16 units
    chunks = split_html(text, 4096)
    assert len(chunks) == 2
    assert all(units(c) <= 4096 for c in chunks)
    assert "".join(parse_telegram_html(c) for c in chunks) == "😀" * 3000


def test_more_sources_page_shows_only_what_fits_and_says_so():
    """Long passages: the page holds fewer of them, its header counts only those, none is cut off."""
    long = Hit(5, 2, 0.5, 0.5, 1.0, "word " * 300, 0, 1500, "Title", "2024-01-01", "TASS", "")
    html, shown = render_hits([long, long, long], "q", 4, "en")
    assert shown == 2 and units(html) <= 4096
    assert "(4–5)" in parse_telegram_html(html) and "[6]" not in html
    assert parse_telegram_html(html).count("word") == 600  # both passages whole
    huge = Hit(5, 2, 0.5, 0.5, 1.0, "word " * 2000, 0, 10000, "Title", "2024-01-01", "TASS", "")
    html, shown = render_hits([huge], "q", 1, "en")
    assert shown == 1 and units(html) <= 4096 and html.rstrip("</blockquote>").endswith("…")
