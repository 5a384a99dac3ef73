"""The five typical answers as a phone shows them (issue 20): one screen, one entry per document, nothing
said twice, a short no.

The answers are built from the bundled TASS article (and two invented agency reports for the
multi-source case) exactly as ``retrieval.answer.compose`` shapes them: citations with quote spans and
bold spans inside their passages, sentences citing passage numbers. Each test renders with the real
renderer, parses the result with the strict Telegram HTML parser of the fake Bot API, and checks what
a reader would notice.
"""
from __future__ import annotations

import re

from bot.render import render_answer
from bot.screen import same_fact, short_title
from retrieval import Answer, Citation, split_sentences
from retrieval.types import AnswerSentence
from retrieval.answer.conversation import rewrite
from tests.conftest import SEED_ARTICLE
from tests.fakes.bot_api import parse_telegram_html

ARTICLE = SEED_ARTICLE.read_text(encoding="utf-8")
LEAD = ("The resumption of talks on the peace treaty with Tokyo is impossible in the current environment, "
        "Russian Deputy Foreign Minister Andrey Rudenko told TASS.")
TASS_TITLE = LEAD[:96]  # the lead cut at 96 characters: the "title" a headline-less article gets


def paragraph(starting: str) -> str:
    return next(p.strip() for p in ARTICLE.split("\n\n") if p.strip().startswith(starting))


def cite(n: int, passage: str, quoted: list[str], bold: list[str] = (), doc_id: int = 1, title: str = TASS_TITLE,
         date: str = "2024-02-07", source: str = "TASS", url: str = "https://tass.com/politics/1743123") -> Citation:
    quotes = [(passage.index(q), passage.index(q) + len(q)) for q in quoted]
    spans = [(passage.index(b), passage.index(b) + len(b)) for b in bold]
    return Citation(n=n, doc_id=doc_id, passage_id=100 * doc_id + n, title=title, date=date, source=source,
                    url=url, passage=passage, score=0.8, quotes=quotes, bold=spans)


def answer(question: str, citations: list[Citation], sentences: list[tuple[str, int]],
           searched_for: str | None = None) -> Answer:
    text = " ".join(f"{s} [{n}]" for s, n in sentences)
    return Answer(question, True, text, citations, [AnswerSentence(s, [n], 1.0, s) for s, n in sentences],
                  0.6, searched_for=searched_for)


def screen(a: Answer, lang: str = "en") -> tuple[list[str], str]:
    """The messages (HTML) and their visible text, each message accepted by the strict parser."""
    chunks = render_answer(a, lang, searched_for=a.searched_for)
    return chunks, "\n\n".join(parse_telegram_html(c) for c in chunks)


def sentences_in(*texts: str) -> list[str]:
    return [t[s:e] for t in texts for s, e in split_sentences(t) if e - s >= 25]


def assert_nothing_twice(visible: str, *sources: str) -> None:
    flat = " ".join(visible.split())
    for sentence in sentences_in(*sources):
        assert flat.count(" ".join(sentence.split())) <= 1, f"printed twice: {sentence!r}"


def entry_headers(visible: str) -> list[str]:
    return re.findall(r"^\[(\d+)\] (.+)$", visible, flags=re.M)


# --- 1. the typical English answer ---------------------------------------------------------------------

DECLARATION = "In 1956, the Soviet Union and Japan signed a joint declaration on ceasing the state of war."
KURILS = paragraph("Russia and Japan have been negotiating")
PASSAGE_1956 = KURILS + " " + paragraph("In 1956")


def typical_english() -> Answer:
    c = cite(1, PASSAGE_1956, [DECLARATION], ["1956"])
    return answer("When did the Soviet Union and Japan sign a joint declaration?", [c], [(DECLARATION, 1)])


def test_typical_english_answer_is_one_short_message_with_the_date_bold_and_the_quote_marked_not_repeated():
    chunks, visible = screen(typical_english())
    assert len(chunks) == 1 and len(visible) <= 900, (len(chunks), len(visible), visible)
    html = chunks[0]
    assert html.startswith("In <b>1956</b>, the Soviet Union and Japan signed a joint declaration")
    assert visible.count(DECLARATION) == 1  # in the answer, only marked inside the passage
    assert "<blockquote expandable>" in html and "<u>In 1956, the Soviet Union…</u>" in html
    # a short plain title, cut at a word boundary, not the 96-character bold lead
    [(number, title)] = entry_headers(visible)
    assert number == "1" and len(title) <= 61 and title.endswith("…") and LEAD.startswith(title[:-1])
    assert "<b>The resumption" not in html
    assert "2024-02-07 · TASS" in visible
    assert_nothing_twice(visible, PASSAGE_1956)


# --- 2. a Russian question over English news ---------------------------------------------------------------

def test_russian_question_over_english_news_says_in_russian_that_the_quote_is_english():
    a = typical_english()
    a.question = "Когда СССР и Япония подписали совместную декларацию?"
    chunks, visible = screen(a, "ru")
    assert len(chunks) == 1
    assert "Цитата из англоязычного источника." in visible
    assert visible.count(DECLARATION) == 1
    english, _ = screen(typical_english(), "en")  # an English question over English news: no note
    assert "Quoted from" not in parse_telegram_html(english[0])


# --- 3. a follow-up ----------------------------------------------------------------------------------------

STOPPED = ("The Russian foreign ministry said in March 2022 that Moscow was stopping peace treaty talks with "
           "Tokyo after it imposed unilateral sanctions on Russia over the situation in Ukraine.")


def test_follow_up_shows_what_was_searched_as_about_not_a_bracketed_fragment_and_the_date_bold():
    searched = rewrite("why did talks stop?", "who said that?")
    assert searched == "who said that (talks stop)?"  # the rule's rewrite the issue quotes
    passage = paragraph("The Russian foreign ministry has repeatedly") + " " + STOPPED
    c = cite(1, passage, [STOPPED], ["March 2022"])
    a = answer("who said that?", [c], [(STOPPED, 1)], searched_for=searched)
    chunks, visible = screen(a)
    assert visible.startswith("about: talks stop\n")
    assert "(talks stop)" not in visible and "Searched for" not in visible
    assert "<b>March 2022</b>" in chunks[0]
    assert visible.count(STOPPED) == 1
    natural = answer("when was that?", [c], [(STOPPED, 1)], searched_for="when did talks stop?")
    assert screen(natural)[1].startswith("Searched for: when did talks stop?")


# --- 4. no answer ------------------------------------------------------------------------------------------

def test_no_answer_is_at_most_five_lines_without_passage_text_and_names_at_most_three_documents():
    passages = [paragraph(p) for p in ("According to", "He noted", '"But after', "Russia and Japan have", "In 1956")]
    citations = [cite(i + 1, p, [], doc_id=1 + i // 2, title=f"Report {1 + i // 2} on the peace treaty talks")
                 for i, p in enumerate(passages)]  # five passages from three documents
    citations.append(cite(6, paragraph("The Russian foreign ministry has"), [], doc_id=9, title="A fourth report"))
    weak = Answer("What is the price of bananas in Ecuador?", False, "Nothing answers.", citations)
    chunks, visible = screen(weak)
    lines = visible.splitlines()
    assert len(chunks) == 1 and len(lines) <= 5, lines
    assert lines[0] == "I found nothing in the library that answers this."
    assert [line.split(" · ")[0] for line in lines[2:]] == [f"· Report {d} on the peace treaty talks" for d in (1, 2, 3)]
    assert all(line.endswith(" · 2024-02-07") for line in lines[2:])
    for sentence in sentences_in(*passages):
        assert sentence not in visible
    assert "More sources" not in visible


# --- 5. a long multi-source answer ---------------------------------------------------------------------------

MEETING = [
    "The meeting of the two foreign ministers lasted forty minutes, the ministry said.",
    "The ministers' meeting lasted forty minutes, officials said.",
    "According to the ministry, the meeting of the ministers lasted forty minutes.",
]
NEXT = "No joint statement was issued after the meeting."
SHARED = "Both delegations declined to comment on the Kuril Islands."


def long_multi_source() -> Answer:
    tass_a = f"{MEETING[0]} {NEXT} {SHARED}"
    tass_b = f"{SHARED} The next round has not been scheduled. Diplomats expect no progress this year."  # overlaps tass_a
    reuters = f"Talks resumed in Moscow on Tuesday. {MEETING[1]} {SHARED}"  # a sentence the agencies share
    interfax = f"{MEETING[2]} The Japanese side raised the issue of fishing quotas. Russia rejected the proposal."
    citations = [
        cite(1, tass_a, [MEETING[0]], ["forty minutes"], doc_id=1, title="Lavrov and Kamikawa meet in Moscow"),
        cite(2, reuters, [MEETING[1]], ["forty minutes"], doc_id=2, source="Reuters", title="",
             url="https://reuters.com/world/1"),
        cite(3, interfax, [MEETING[2]], ["forty minutes"], doc_id=3, source="Interfax",
             title="Russian and Japanese ministers held a meeting in Moscow on Tuesday that was described by "
                   "both sides as businesslike"),
        cite(4, tass_b, [], doc_id=1, title="Lavrov and Kamikawa meet in Moscow"),
    ]
    sentences = [(MEETING[0], 1), (MEETING[1], 2), (MEETING[2], 3)]
    a = answer("How long did the meeting last?", citations, sentences)
    a.sentences.append(AnswerSentence(NEXT, [4], 1.0, NEXT))  # the second passage of document 1 is cited too
    return a, (tass_a, tass_b, reuters, interfax)


def test_long_multi_source_answer_states_the_fact_once_with_all_citations_one_entry_per_document():
    a, passages = long_multi_source()
    chunks, visible = screen(a)
    assert len(chunks) == 1
    body = visible.split("\n\n")[0]
    assert sum(body.count(s) for s in MEETING) == 1  # the same fact once ...
    assert "forty minutes, the ministry said. [1][2][3]" in body  # ... with all three citations
    assert "<b>forty minutes</b>" in chunks[0]
    headers = entry_headers(visible)
    assert [n for n, _ in headers] == ["1", "2", "3"]  # three documents, four passages
    titles = [t for _, t in headers]
    assert titles[0] == "Lavrov and Kamikawa meet in Moscow"
    assert titles[1].startswith("Talks resumed in Moscow on Tuesday")  # no title: the lead
    assert len(titles[2]) <= 61 and titles[2].endswith("…") and " " not in titles[2][-2:]
    assert_nothing_twice(visible, *passages)
    assert visible.count(SHARED) == 1  # shared by two agencies and two overlapping passages: once
    assert "The next round has not been scheduled." in visible  # what the second passage adds stays


def test_same_fact_needs_the_same_numbers():
    assert same_fact(MEETING[0], MEETING[1])
    assert not same_fact("The meeting lasted 40 minutes.", "The meeting lasted 90 minutes.")
    assert not same_fact(MEETING[0], NEXT)
    assert not same_fact("Russia rejected the proposal on fishing quotas.", "Japan rejected the proposal on fishing quotas.")


def test_short_title_is_cut_at_a_word_boundary_and_escaped():
    assert short_title("<b>Short</b> & sweet") == "&lt;b&gt;Short&lt;/b&gt; &amp; sweet"
    cut = short_title(LEAD)
    assert len(cut) <= 60 and cut.endswith("…") and LEAD.startswith(cut[:-1]) and LEAD[len(cut) - 1] == " "
    assert short_title("", "First sentence of the body. Second one.") == "First sentence of the body."
    assert short_title("", "", 42) == "#42"


def test_a_generated_answer_shows_its_supporting_sentence_whole_and_bold_not_just_marked():
    """An LLM sentence is not a passage sentence: the passage sentence behind it is the evidence, shown."""
    c = cite(1, PASSAGE_1956, [DECLARATION])
    a = Answer("When was the declaration signed?", True, "It was signed in 1956. [1]", [c],
               [AnswerSentence("It was signed in 1956.", [1], 0.9, DECLARATION)], 0.6, mode="generative")
    chunks, visible = screen(a)
    assert visible.startswith("It was signed in 1956. [1]")
    assert f"<b>{DECLARATION}</b>" in chunks[0] and visible.count(DECLARATION) == 1
