"""HTML, PDF, DOCX and CSV files: text extracted, boilerplate left out, metadata right.

Fixtures are written here at test time: PDFs by a tiny PDF writer below, DOCX by python-docx,
HTML as literal pages.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from retrieval.ingest import load_file, load_sources
from retrieval.errors import UserError

MAX = 10_000_000


# ------------------------------------------------------------------------------------------ fixtures


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A valid PDF with one Helvetica text line per string; enough for text extraction tests."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    info_id = font_id + 1
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 750 Td"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    objects.append(f"<< /Title ({title}) >>".encode("latin-1") if title else b"<< >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % num + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info_id, xref))
    return out.getvalue()


def write(path: Path, data: bytes | str) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


ARTICLE_HTML = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Russia rules out peace talks | World | Example Site</title>
<meta property="og:title" content="Russia rules out peace talks with Japan">
<meta property="og:site_name" content="TASS">
<meta property="article:published_time" content="2024-02-08T10:00:00Z">
<link rel="canonical" href="https://tass.com/politics/1743781">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World news menu</a></li></ul></nav>
<div class="ad">Buy cheap flights now! Subscribe to our newsletter today!</div>
<article><h1>Russia rules out peace talks with Japan</h1>
<p>MOSCOW, February 8. /TASS/. The resumption of talks on the peace treaty with Tokyo is impossible in the
current environment, Russian Deputy Foreign Minister Andrey Rudenko told TASS.</p>
<p>"In the current situation, the resumption of dialogue on the above-mentioned treaty is categorically
impossible," he said, when asked about the prospects of the talks in the foreseeable future.</p>
<p>According to the senior diplomat, relations with Japan are currently at an unprecedented low level
because of the short-sighted policy of the Japanese government.</p>
</article>
<section id="comments" class="comments"><h3>Comments</h3>
<div class="comment"><p>Reader123 wrote: this is obviously fake news and I do not believe a word of it.</p></div>
</section>
<footer><p>Copyright 2021 Example Media. All rights reserved.</p></footer>
</body></html>"""

RUSSIAN_HTML = """<html><head><meta charset="utf-8"><title>Переговоры с Японией невозможны</title>
<meta name="date" content="2024-02-08"></head><body><main>
<p>МОСКВА, 8 февраля. /ТАСС/. Возобновление переговоров о мирном договоре с Токио в нынешних условиях
невозможно, заявил ТАСС заместитель министра иностранных дел России Андрей Руденко.</p>
<p>«В нынешней ситуации возобновление диалога по вышеупомянутому договору категорически невозможно», —
сказал он, отвечая на вопрос о перспективах возобновления переговоров.</p>
</main></body></html>"""


# ------------------------------------------------------------------------------------------------ HTML


def test_html_main_text_and_metadata(tmp_path):
    [doc] = load_file(write(tmp_path / "page.html", ARTICLE_HTML), MAX)
    assert doc.title == "Russia rules out peace talks with Japan"
    assert doc.date == "2024-02-08"
    assert doc.source == "TASS"
    assert doc.url == "https://tass.com/politics/1743781"
    assert doc.place == "MOSCOW" and doc.lang == "en"
    assert doc.text.startswith("The resumption of talks on the peace treaty with Tokyo")
    # the HTML source wraps lines inside <p>; paragraphs must come out whole, not split mid-sentence
    assert "categorically impossible" in doc.text and "in the current environment" in doc.text
    assert all("\n" not in para for para in doc.text.split("\n\n"))
    assert len(doc.text.split("\n\n")) == 3
    for boilerplate in ("World news menu", "cheap flights", "fake news", "Copyright", "Comments"):
        assert boilerplate not in doc.text
    assert "\n\n" in doc.text  # paragraphs kept


def test_html_lists_tables_and_line_breaks():
    page = ("<html><head><title>Budget vote</title></head><body><article><p>The council approved the budget"
            "<br>after a long debate on Tuesday evening in the town hall.</p><ul><li>Schools get more money</li>"
            "<li>Roads get less money</li></ul><table><tr><td>Schools</td><td>12 million</td></tr>"
            "<tr><td>Roads</td><td>8 million</td></tr></table></article></body></html>")
    from retrieval.ingest.html import load_html

    doc = load_html(page.encode(), "p.html", "p.html")
    assert doc.text == ("The council approved the budget\nafter a long debate on Tuesday evening in the town hall."
                        "\n\nSchools get more money\nRoads get less money\n\nSchools | 12 million\nRoads | 8 million")


def test_html_without_date_markup_gets_no_guessed_date(tmp_path):
    page = ARTICLE_HTML.replace('<meta property="article:published_time" content="2024-02-08T10:00:00Z">', "")
    page = page.replace("MOSCOW, February 8. /TASS/. ", "")
    [doc] = load_file(write(tmp_path / "page.htm", page), MAX)
    assert doc.date is None  # "Copyright 2021" in the footer is not a publication date


def test_russian_html(tmp_path):
    [doc] = load_file(write(tmp_path / "ru.html", RUSSIAN_HTML), MAX)
    assert doc.lang == "ru"
    assert doc.date == "2024-02-08"
    assert (doc.place, doc.source) == ("МОСКВА", "ТАСС")
    assert doc.title == "Переговоры с Японией невозможны"
    assert doc.text.startswith("Возобновление переговоров о мирном договоре")


def test_html_with_no_article_text(tmp_path):
    f = write(tmp_path / "empty.html", "<html><head><title>x</title></head><body><nav>Home</nav></body></html>")
    with pytest.raises(UserError, match="no article text"):
        load_file(f, MAX)


# ------------------------------------------------------------------------------------------------- PDF

PAGE1 = ["MOSCOW, February 8. /TASS/. The resumption of talks on the peace treaty",
         "with Tokyo is impossible in the current environment, the minister said."]
PAGE2 = ["Relations with Japan are at an unprecedented low level, he added."]
PAGE3 = ["Moscow was stopping peace treaty talks with Tokyo in March 2022."]


def test_pdf_pages_and_offsets(tmp_path):
    f = write(tmp_path / "a.pdf", make_pdf([PAGE1, PAGE2, PAGE3], title="Peace talks off"))
    [doc] = load_file(f, MAX)
    assert doc.title == "Peace talks off"
    assert (doc.place, doc.source) == ("MOSCOW", "TASS")
    assert doc.text.startswith("The resumption of talks")
    assert len(doc.page_starts) == 3
    for page, needle in ((1, "the minister said"), (2, "unprecedented low level"), (3, "Moscow was stopping")):
        offset = doc.text.index(needle)
        assert doc.page_at(offset) == page
    assert doc.page_starts[0] == 0
    assert doc.text[doc.page_starts[1]:].startswith("Relations with Japan")
    assert doc.text[doc.page_starts[2]:].startswith("Moscow was stopping")


def test_pdf_without_title_metadata_uses_first_sentence(tmp_path):
    [doc] = load_file(write(tmp_path / "a.pdf", make_pdf([PAGE2])), MAX)
    assert doc.title == "Relations with Japan are at an unprecedented low level, he added"
    assert doc.page_starts == [0]


def test_pdf_blank_page_keeps_page_numbers(tmp_path):
    [doc] = load_file(write(tmp_path / "a.pdf", make_pdf([PAGE2, [], PAGE3])), MAX)
    assert len(doc.page_starts) == 3
    assert doc.page_at(doc.text.index("Moscow was stopping")) == 3


def test_encrypted_pdf(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(make_pdf([PAGE1]))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    with pytest.raises(UserError, match="encrypted PDF"):
        load_file(write(tmp_path / "locked.pdf", buf.getvalue()), MAX)


def test_pdf_encrypted_with_empty_password_is_read(tmp_path):
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(make_pdf([PAGE2]))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    [doc] = load_file(write(tmp_path / "open.pdf", buf.getvalue()), MAX)
    assert "unprecedented low level" in doc.text


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"this is not a pdf at all", "not a PDF"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n%%EOF", "(corrupt|no pages|no extractable)"),
    ],
)
def test_bad_pdfs(tmp_path, data, message):
    with pytest.raises(UserError, match=message):
        load_file(write(tmp_path / "bad.pdf", data), MAX)


def test_truncated_pdf(tmp_path):
    data = make_pdf([PAGE1, PAGE2])
    with pytest.raises(UserError, match="bad.pdf"):
        load_file(write(tmp_path / "bad.pdf", data[: len(data) // 3]), MAX)


def test_pdf_with_no_text(tmp_path):
    with pytest.raises(UserError, match="no extractable text"):
        load_file(write(tmp_path / "scan.pdf", make_pdf([[], []])), MAX)


# ------------------------------------------------------------------------------------------------ DOCX


def make_docx(path: Path, russian: bool = False) -> Path:
    import docx

    d = docx.Document()
    if russian:
        d.add_heading("Переговоры о мирном договоре", level=0)
        d.add_paragraph("МОСКВА, 8 февраля. /ТАСС/. Возобновление переговоров о мирном договоре с Токио невозможно.")
    else:
        d.add_heading("Trade figures for January", level=1)
        d.add_paragraph("WASHINGTON, March 3, 2023. /TASS/. Exports rose sharply in January, officials said.")
        table = d.add_table(rows=3, cols=2)
        for r, (a, b) in enumerate([("Country", "Exports"), ("Japan", "4.2 billion"), ("Canada", "3.1 billion")]):
            table.cell(r, 0).text = a
            table.cell(r, 1).text = b
        d.add_paragraph("Imports fell by two percent.")
    d.save(path)
    return path


def test_docx_text_tables_and_title(tmp_path):
    [doc] = load_file(make_docx(tmp_path / "a.docx"), MAX)
    assert doc.title == "Trade figures for January"
    assert (doc.place, doc.source, doc.date) == ("WASHINGTON", "TASS", "2023-03-03")
    assert doc.text.startswith("Exports rose sharply in January")
    assert "Japan | 4.2 billion" in doc.text
    # tables stay in document order
    assert doc.text.index("Canada | 3.1 billion") < doc.text.index("Imports fell")


def test_docx_russian(tmp_path):
    [doc] = load_file(make_docx(tmp_path / "ru.docx", russian=True), MAX)
    assert doc.title == "Переговоры о мирном договоре" and doc.lang == "ru" and doc.source == "ТАСС"
    assert doc.date is None  # no year anywhere, and the template's 2013 creation date is not used


def test_corrupt_docx(tmp_path):
    with pytest.raises(UserError, match="bad.docx: not a readable DOCX"):
        load_file(write(tmp_path / "bad.docx", b"PK\x03\x04 truncated zip"), MAX)


# ------------------------------------------------------------------------------------------------- CSV


def test_csv_bulk(tmp_path):
    f = write(tmp_path / "bulk.csv", "title,text,date,source,url\n"
              'One,"First story, with a comma.\n\nAnd a second paragraph.",2024-02-08,TASS,https://t/1\n'
              ",Вторая новость о переговорах с Японией.,8 февраля 2024,,\n")
    docs = load_file(f, MAX)
    assert [d.title for d in docs] == ["One", "Вторая новость о переговорах с Японией"]
    assert docs[0].text == "First story, with a comma.\n\nAnd a second paragraph."
    assert [d.date for d in docs] == ["2024-02-08", "2024-02-08"]
    assert docs[0].source == "TASS" and docs[0].url == "https://t/1"


def test_csv_without_text_column(tmp_path):
    f = write(tmp_path / "bulk.csv", "headline,body\nA,B\n")
    with pytest.raises(UserError, match="text' column"):
        load_file(f, MAX)


def test_csv_bad_row_named(tmp_path):
    f = write(tmp_path / "bulk.csv", "title,text,date\nA,Good text here.,2024-01-01\nB,More text.,not a date\n")
    results = list(load_sources([str(f)], MAX))
    assert [d.title for d in results[0][1]] == ["A"]
    assert results[1][0] == f"{f} line 3" and str(results[1][1]).startswith("invalid date")


def test_directory_with_every_format(tmp_path):
    write(tmp_path / "a.html", ARTICLE_HTML)
    write(tmp_path / "b.pdf", make_pdf([PAGE2]))
    make_docx(tmp_path / "c.docx")
    write(tmp_path / "d.csv", "text\nCSV story text.\n")
    write(tmp_path / "e.jsonl", '{"text": "JSONL story text."}\n')
    write(tmp_path / "f.md", "Markdown story.")
    loaded = {Path(label).name: docs for label, docs in load_sources([str(tmp_path)], MAX)}
    assert sorted(loaded) == ["a.html", "b.pdf", "c.docx", "d.csv", "e.jsonl", "f.md"]
    assert all(isinstance(v, list) and v and v[0].text for v in loaded.values())


# ------------------------------------------------------------------------- end to end: ask and cite


def _cited(answer, needle: str):
    """The citation whose passage holds ``needle``; the answer must quote from it."""
    for c in answer.citations:
        if needle in c.passage:
            assert any(n == c.n for _, n in answer.sentences), "cited passage not quoted in the answer"
            return c
    raise AssertionError(f"no citation contains {needle!r}: {[c.passage[:60] for c in answer.citations]}")


@pytest.fixture
def mixed_corpus(tmp_path, make_corpus):
    """One small corpus holding an article in each format, each about a different subject."""
    docs = tmp_path / "docs"
    docs.mkdir()
    write(docs / "talks.html", ARTICLE_HTML)
    council = [f"The city council met on Monday to discuss item {i} of the budget for the coming year."
               for i in range(1, 12)]
    parks = [f"Park number {i} in the old town will get new benches and trees next spring."
             for i in range(1, 12)]  # enough text that the bridge sentence's passage starts on page 2
    write(docs / "harbour.pdf", make_pdf([
        council,
        parks + ["The new harbour bridge will cost 40 million euros and open in 2027, the mayor said."],
    ], title="Harbour bridge plans"))
    import docx

    d = docx.Document()
    d.add_heading("Wheat harvest report", level=1)
    d.add_paragraph("Farmers expect a record wheat harvest this summer after heavy spring rains.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Region", "Tonnes"
    table.cell(1, 0).text, table.cell(1, 1).text = "Kansas", "9 million"
    d.save(docs / "wheat.docx")
    write(docs / "rail.csv", "title,text,date,source,url\n"
          "Rail strike ends,Train drivers ended their strike after the union accepted a 6 percent pay rise.,"
          "2024-03-01,Rail Weekly,https://rail.example/strike\n")
    write(docs / "comet.jsonl", '{"title": "Comet visible", "text": "A bright comet will be visible to the naked eye in '
          'the northern sky next week, astronomers said.", "date": "2024-04-02", "source": "Sky News Daily"}\n')
    corpus = make_corpus()
    results = corpus.add_paths([docs])
    assert [r.status for r in results] == ["added"] * 5, [(r.path, r.message) for r in results]
    return corpus


def test_every_format_answers_with_a_citation(mixed_corpus):
    answer = mixed_corpus.ask("Why are peace treaty talks with Tokyo impossible?")
    c = _cited(answer, "peace treaty with Tokyo")
    assert (c.title, c.source, c.date, c.url) == ("Russia rules out peace talks with Japan", "TASS", "2024-02-08",
                                                  "https://tass.com/politics/1743781")

    answer = mixed_corpus.ask("How much will the harbour bridge cost?")
    c = _cited(answer, "40 million euros")
    assert (c.title, c.page) == ("Harbour bridge plans", 2)  # the citation names the PDF page

    answer = mixed_corpus.ask("Why do farmers expect a record wheat harvest?")
    assert _cited(answer, "heavy spring rains").title == "Wheat harvest report"

    answer = mixed_corpus.ask("Why did the train drivers end their strike?")
    c = _cited(answer, "6 percent pay rise")
    assert (c.title, c.source, c.url, c.date) == ("Rail strike ends", "Rail Weekly", "https://rail.example/strike", "2024-03-01")

    answer = mixed_corpus.ask("When will the comet be visible?")
    assert _cited(answer, "bright comet").source == "Sky News Daily"


def test_russian_article_answers_russian_question(tmp_path, make_corpus):
    corpus = make_corpus()
    [result] = corpus.add_paths([write(tmp_path / "ru.html", RUSSIAN_HTML)])
    assert result.status == "added"
    answer = corpus.ask("Возможно ли возобновление переговоров о мирном договоре с Токио?")
    assert answer.answered
    c = _cited(answer, "Возобновление переговоров о мирном договоре с Токио")
    assert (c.source, c.date) == ("ТАСС", "2024-02-08")
    quoted = [s for s, n in answer.sentences if n == c.n]
    assert any(s in c.passage for s in quoted)  # verbatim quote from the Russian passage
