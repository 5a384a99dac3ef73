from retrieval.text.passages import make_passages, split_sentences, word_count

from ...conftest import SEED_ARTICLE


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def test_english_abbreviations_and_initials_do_not_end_sentences():
    text = "Mr. Smith met U.S. officials on Jan. 5 in Washington. A. Rudenko said no. They left."
    assert sentences(text) == [
        "Mr. Smith met U.S. officials on Jan. 5 in Washington.",
        "A. Rudenko said no.",
        "They left.",
    ]


def test_russian_abbreviations_and_initials_do_not_end_sentences():
    text = "В 1956 г. СССР и Япония подписали декларацию. А. Руденко, т.е. замминистра, сказал это. Всё."
    assert sentences(text) == [
        "В 1956 г. СССР и Япония подписали декларацию.",
        "А. Руденко, т.е. замминистра, сказал это.",
        "Всё.",
    ]


def test_quotes_and_paragraphs_split_where_a_reader_would():
    text = 'He said "no." "We refuse," she added!\n\nNew paragraph without a period\n\nLast one?'
    assert sentences(text) == ['He said "no."', '"We refuse," she added!', "New paragraph without a period",
                               "Last one?"]


def test_offsets_quote_the_document_exactly():
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    for start, end in split_sentences(text):
        assert text[start:end] == text[start:end].strip()
        assert text[start:end]


def test_passages_respect_size_and_overlap_by_one_sentence():
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    passages = make_passages(text, min_words=40, max_words=120)
    assert len(passages) > 5
    for p in passages:
        assert p.text == text[p.start:p.end]
        assert word_count(p.text) <= 120
    for prev, nxt in zip(passages, passages[1:]):
        if len(prev.sentences) > 1:
            assert nxt.sentences[0] == prev.sentences[-1]
    # every sentence of the article is in some passage
    covered = {s for p in passages for s in p.sentences}
    assert covered == set(split_sentences(text))


def test_run_on_text_is_cut_into_bounded_passages():
    text = " ".join(["word"] * 500) + "."
    passages = make_passages(text, min_words=40, max_words=120)
    assert all(word_count(p.text) <= 120 for p in passages)
    assert sum(word_count(p.text) for p in passages) >= 500
