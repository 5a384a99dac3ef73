"""Loading text, Markdown, JSON Lines, stdin and directories into Documents with the right metadata."""
from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from retrieval.ingest import SUPPORTED_SUFFIXES, load_file, load_sources, load_text
from retrieval.errors import UserError

REPO = Path(__file__).resolve().parents[3]
TASS = REPO / "corpus" / "tass-2024-02-08-russia-japan-peace-treaty.txt"
MAX = 10_000_000


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def test_bundled_tass_article_metadata_and_body():
    [doc] = load_file(TASS, MAX)
    assert doc.date == "2024-02-07"  # the file's own `date` line wins over the dateline's February 8
    assert doc.source == "TASS"
    assert doc.place == "MOSCOW"
    assert doc.lang == "en"
    assert doc.path == str(TASS.resolve())
    # dateline and date line removed from the body, paragraphs kept
    assert doc.text.startswith("The resumption of talks on the peace treaty with Tokyo is impossible")
    assert "/TASS/" not in doc.text and "date 2024" not in doc.text
    assert "\n\n" in doc.text and "\n\n\n" not in doc.text
    assert "Moscow was stopping peace treaty talks with Tokyo" in doc.text
    assert doc.title.startswith("The resumption of talks on the peace treaty")
    assert len(doc.title) <= 100 and doc.title.endswith("…")


def test_dateline_without_date_line_gives_date_from_another_date_in_text(tmp_path):
    f = write(tmp_path / "a.txt", "MOSCOW, February 8. /TASS/. Talks stalled.\n\nOn March 21, 2022, Moscow said so.\n")
    [doc] = load_file(f, MAX)
    assert (doc.date, doc.place, doc.source) == ("2022-02-08", "MOSCOW", "TASS")
    assert doc.text.startswith("Talks stalled.")


def test_dateline_without_any_year_leaves_date_unknown(tmp_path):
    f = write(tmp_path / "a.txt", "MOSCOW, February 8. /TASS/. Talks stalled.\n")
    [doc] = load_file(f, MAX)
    assert doc.date is None and doc.source == "TASS"


def test_russian_dateline(tmp_path):
    f = write(tmp_path / "ru.txt", "МОСКВА, 8 февраля. /ТАСС/. Возобновление переговоров о мирном договоре с Токио "
              "в нынешних условиях невозможно, заявил заместитель министра иностранных дел России 8 февраля 2024 года.\n")
    [doc] = load_file(f, MAX)
    assert (doc.date, doc.place, doc.source, doc.lang) == ("2024-02-08", "МОСКВА", "ТАСС", "ru")
    assert doc.text.startswith("Возобновление переговоров")


def test_front_matter_overrides_everything(tmp_path):
    f = write(tmp_path / "a.md", "---\ntitle: Peace talks off\ndate: 2024-02-09\nsource: Example News\n"
              "url: https://example.org/a\nlang: en\n---\n# Heading here\n\nMOSCOW, February 8. /TASS/. Body text here.\n")
    [doc] = load_file(f, MAX)
    assert doc.title == "Peace talks off"
    assert doc.date == "2024-02-09"
    assert doc.source == "Example News"
    assert doc.url == "https://example.org/a"
    assert doc.place == "MOSCOW"
    assert doc.text == "Body text here."


def test_front_matter_date_as_text_is_parsed(tmp_path):
    f = write(tmp_path / "a.md", "---\ndate: 8 февраля 2024\n---\nТекст статьи о переговорах.\n")
    assert load_file(f, MAX)[0].date == "2024-02-08"


@pytest.mark.parametrize("bad", ["2024-02-30", "yesterday", "'13/45/2024'"])
def test_invalid_front_matter_date_names_file(tmp_path, bad):
    f = write(tmp_path / "bad.md", f"---\ndate: {bad}\n---\nSome text.\n")
    with pytest.raises(UserError, match=r"bad\.md.*invalid date"):
        load_file(f, MAX)


def test_broken_yaml_front_matter_is_a_user_error(tmp_path):
    f = write(tmp_path / "bad.md", "---\ntitle: [unclosed\n---\nSome text.\n")
    with pytest.raises(UserError, match=r"bad\.md.*front matter"):
        load_file(f, MAX)


def test_invalid_leading_date_line(tmp_path):
    f = write(tmp_path / "a.txt", "date 2024-13-45 Text.\n")
    with pytest.raises(UserError, match="invalid date"):
        load_file(f, MAX)


def test_text_starting_with_the_word_date_is_not_a_date_line(tmp_path):
    f = write(tmp_path / "a.txt", "Date palms grow in the desert.\n")
    [doc] = load_file(f, MAX)
    assert doc.date is None and doc.text == "Date palms grow in the desert."


def test_heading_line_becomes_title(tmp_path):
    f = write(tmp_path / "a.txt", "Russia rules out peace talks with Japan\n\nThe talks are impossible now. More text.\n")
    [doc] = load_file(f, MAX)
    assert doc.title == "Russia rules out peace talks with Japan"
    assert doc.text == "The talks are impossible now. More text."


def test_first_line_ending_with_period_is_not_a_heading(tmp_path):
    f = write(tmp_path / "a.txt", "The talks are off.\n\nSecond paragraph.\n")
    [doc] = load_file(f, MAX)
    assert doc.title == "The talks are off"
    assert doc.text.startswith("The talks are off.")


def test_markdown_heading_and_markup_removed(tmp_path):
    f = write(tmp_path / "a.md", "# Big **news**\n\nThe [minister](https://x.org) said *no*.\n\n## Details\n\nMore `here`.\n")
    [doc] = load_file(f, MAX)
    assert doc.title == "Big news"
    assert doc.text == "The minister said no.\n\nDetails\n\nMore here."


def test_newlines_normalised_and_trailing_space_stripped():
    [doc] = load_text("First line.  \r\nSame paragraph.\r\n\r\n\r\n\r\nNext paragraph.\t\r\n")
    assert doc.text == "First line.\nSame paragraph.\n\nNext paragraph."


def test_utf8_bom_accepted(tmp_path):
    f = write(tmp_path / "a.txt", b"\xef\xbb\xbfHello world, this is text.\n")
    assert load_file(f, MAX)[0].text == "Hello world, this is text."


def test_utf16_file_with_bom_decoded(tmp_path):
    f = write(tmp_path / "a.txt", "Переговоры невозможны, заявил министр.".encode("utf-16"))
    assert load_file(f, MAX)[0].text == "Переговоры невозможны, заявил министр."


def test_cp1251_russian_file_decoded(tmp_path):
    f = write(tmp_path / "a.txt", "Переговоры о мирном договоре невозможны.".encode("cp1251"))
    [doc] = load_file(f, MAX)
    assert doc.text == "Переговоры о мирном договоре невозможны." and doc.lang == "ru"


def test_latin1_file_decoded(tmp_path):
    f = write(tmp_path / "a.txt", "Le ministre a parlé à la presse en français.".encode("latin-1"))
    assert load_file(f, MAX)[0].text == "Le ministre a parlé à la presse en français."


def test_random_bytes_are_not_text(tmp_path):
    data = bytes(range(128, 256)) * 4 + bytes(range(1, 9))
    f = write(tmp_path / "a.txt", data)
    with pytest.raises(UserError, match="not UTF-8 text"):
        load_file(f, MAX)


def test_binary_file_named_txt(tmp_path):
    f = write(tmp_path / "a.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(UserError, match="binary"):
        load_file(f, MAX)


@pytest.mark.parametrize("content", ["", "   \n\n\t  \n"])
def test_empty_file(tmp_path, content):
    f = write(tmp_path / "a.txt", content)
    with pytest.raises(UserError, match="empty"):
        load_file(f, MAX)


def test_only_front_matter_is_empty(tmp_path):
    f = write(tmp_path / "a.md", "---\ntitle: x\n---\n\n")
    with pytest.raises(UserError, match="empty"):
        load_file(f, MAX)


def test_size_limit_refused_before_reading(tmp_path):
    f = write(tmp_path / "a.txt", "x" * 2000)
    with pytest.raises(UserError, match="size limit"):
        load_file(f, 1000)


def test_unsupported_explicit_file_is_an_error(tmp_path):
    f = write(tmp_path / "a.xyz", "text")
    with pytest.raises(UserError, match=r"unsupported file type \.xyz"):
        load_file(f, MAX)


def test_supported_suffixes_declared():
    assert {".txt", ".md", ".jsonl", ".html", ".pdf", ".docx", ".csv"} <= SUPPORTED_SUFFIXES


# ------------------------------------------------------------------------------------------ JSON Lines


def test_jsonl_one_document_per_line(tmp_path):
    lines = [
        {"title": "One", "text": "The first story is about the talks with Japan.", "date": "2024-02-08", "source": "TASS", "url": "https://t/1"},
        {"text": "Вторая новость о переговорах с Японией.", "date": "8 февраля 2024"},
    ]
    f = write(tmp_path / "bulk.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n\n")
    docs = load_file(f, MAX)
    assert [d.title for d in docs] == ["One", "Вторая новость о переговорах с Японией"]
    assert [d.date for d in docs] == ["2024-02-08", "2024-02-08"]
    assert docs[0].source == "TASS" and docs[0].url == "https://t/1"
    assert [d.lang for d in docs] == ["en", "ru"]
    assert len({d.path for d in docs}) == 2  # each bulk document has its own path


def test_jsonl_bad_line_named_and_rest_kept(tmp_path):
    f = write(tmp_path / "bulk.jsonl", '{"text": "Good one."}\n{"text": \n{"title": "no text"}\n{"text": "Good two."}\n')
    with pytest.raises(UserError, match="line 2"):
        load_file(f, MAX)
    results = list(load_sources([str(f)], MAX))
    good = [r for label, r in results if not isinstance(r, Exception)]
    bad = {label: r for label, r in results if isinstance(r, Exception)}
    assert [d.text for d in good[0]] == ["Good one.", "Good two."]
    assert set(bad) == {f"{f} line 2", f"{f} line 3"}
    assert str(bad[f"{f} line 3"]) == "missing or empty 'text'"
    assert str(bad[f"{f} line 2"]).startswith("not valid JSON")


def test_jsonl_bad_date_names_line(tmp_path):
    f = write(tmp_path / "bulk.jsonl", '{"text": "x y z", "date": "2024-99-01"}\n')
    with pytest.raises(UserError, match=r"line 1: invalid date"):
        load_file(f, MAX)


# ---------------------------------------------------------------------------------- stdin & directories


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("---\ntitle: From stdin\n---\nPiped text.\n".encode())))
    [(label, docs)] = list(load_sources(["-"], MAX))
    assert label == "-" and docs[0].title == "From stdin" and docs[0].path == "-"


def test_stdin_over_limit(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x" * 100)))
    [(label, err)] = list(load_sources(["-"], 50))
    assert isinstance(err, UserError) and "more than 50 bytes" in str(err)


def test_directory_recursive_sorted_hidden_and_unsupported_skipped(tmp_path):
    write(tmp_path / "b.txt", "Story B.")
    write(tmp_path / "a.md", "Story A.")
    write(tmp_path / "sub" / "c.txt", "Story C.")
    write(tmp_path / ".hidden.txt", "Hidden.")
    write(tmp_path / ".git" / "d.txt", "In hidden dir.")
    write(tmp_path / "image.png", b"\x89PNG")
    write(tmp_path / "notes.xyz", "ignored")
    os.symlink(tmp_path, tmp_path / "sub" / "loop")  # a symlink loop must not hang or repeat
    results = list(load_sources([str(tmp_path)], MAX))
    labels = [Path(label).relative_to(tmp_path).as_posix() for label, _ in results]
    assert labels == ["a.md", "b.txt", "sub/c.txt"]
    assert [docs[0].text for _, docs in results] == ["Story A.", "Story B.", "Story C."]


def test_one_bad_file_does_not_stop_the_rest(tmp_path):
    write(tmp_path / "a.txt", "")
    write(tmp_path / "b.txt", "Fine story.")
    results = dict(load_sources([str(tmp_path), str(tmp_path / "missing.txt"), str(tmp_path / "x.xyz")], MAX))
    assert isinstance(results[str(tmp_path / "a.txt")], UserError)
    assert results[str(tmp_path / "b.txt")][0].text == "Fine story."
    assert "no such file" in str(results[str(tmp_path / "missing.txt")])


def test_explicit_unsupported_file_via_load_sources(tmp_path):
    f = write(tmp_path / "x.xyz", "text")
    [(label, err)] = list(load_sources([str(f)], MAX))
    assert isinstance(err, UserError) and "unsupported" in str(err)


def test_every_document_gets_a_language(tmp_path):
    write(tmp_path / "en.txt", "The minister said the talks with Tokyo were impossible in the current situation.")
    write(tmp_path / "ru.txt", "Министр заявил, что переговоры с Токио невозможны в нынешней ситуации.")
    langs = {Path(label).name: docs[0].lang for label, docs in load_sources([str(tmp_path)], MAX)}
    assert langs == {"en.txt": "en", "ru.txt": "ru"}


def test_directory_without_supported_files_says_so(tmp_path):
    write(tmp_path / "photo.jpg", b"\xff\xd8")
    [(label, err)] = list(load_sources([str(tmp_path)], MAX))
    assert label == str(tmp_path) and isinstance(err, UserError) and "no supported files" in str(err)


def test_error_messages_read_as_one_line_after_their_label(tmp_path):
    write(tmp_path / "d" / "bin.txt", b"garbage\x00\x01")
    write(tmp_path / "d" / "b.jsonl", '{"text": "A fine story about the harvest."}\n{bad\n')
    write(tmp_path / "x.xyz", "hi")
    args = [str(tmp_path / "d"), str(tmp_path / "x.xyz"), str(tmp_path / "missing.txt")]
    errors = [(label, err) for label, err in load_sources(args, MAX) if isinstance(err, Exception)]
    assert len(errors) == 4
    lines = [f"{label}: {err}" for label, err in errors]
    assert lines == [
        f"{tmp_path}/d/b.jsonl line 2: not valid JSON (Expecting property name enclosed in double quotes)",
        f"{tmp_path}/d/bin.txt: binary file (contains NUL bytes), not text",
        f"{tmp_path}/x.xyz: unsupported file type .xyz; supported: " + " ".join(sorted(SUPPORTED_SUFFIXES)),
        f"{tmp_path}/missing.txt: no such file or directory",
    ]


def test_a_dateline_means_the_same_in_every_format(tmp_path):
    """One dateline rule (ingest.dates.take_dateline) for text, Markdown, JSON Lines, CSV and HTML."""
    import docx as python_docx

    story = "The ministry said the harbour budget grew by a tenth on Monday after a long debate."
    line = "MOSCOW, February 8. /TASS/. " + story
    (tmp_path / "a.txt").write_text("date 2024-02-09\n" + line + "\n")
    (tmp_path / "b.md").write_text("---\ndate: 2024-02-09\n---\n" + line + "\n")
    (tmp_path / "c.jsonl").write_text(json.dumps({"text": line, "date": "2024-02-09"}) + "\n")
    (tmp_path / "d.csv").write_text(f'text,date\n"{line}",2024-02-09\n')
    (tmp_path / "e.html").write_text(
        "<html><head><title>Budget</title><meta property='article:published_time' content='2024-02-09'></head>"
        f"<body><article><p>{line}</p><p>Officials said the harbour vote was close and long.</p></article></body></html>")
    document = python_docx.Document()
    document.add_paragraph(line)
    document.save(tmp_path / "f.docx")
    docs = [doc for _, loaded in load_sources([str(tmp_path)], MAX) for doc in loaded]
    assert len(docs) == 6
    for doc in docs:
        assert (doc.place, doc.source) == ("MOSCOW", "TASS"), doc.path
        assert doc.text.startswith("The ministry said"), doc.path
        # stated dates win; the DOCX states none and its dateline has no year, so no date is guessed
        assert doc.date == (None if doc.path.endswith("f.docx") else "2024-02-09"), doc.path
