"""Near-duplicates: the same story republished with edits is caught, a different story is not."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.corpus import neardup
from retrieval.ingest import load_file

REPO = Path(__file__).resolve().parents[3]
TASS = REPO / "corpus" / "tass-2024-02-08-russia-japan-peace-treaty.txt"

OTHER_STORY_SAME_TOPIC = """Japan's prime minister said on Friday that Tokyo remains committed to concluding a peace
treaty with Moscow and resolving the dispute over the southern Kuril Islands, which Japan calls the Northern
Territories, despite the sharp deterioration in relations since 2022.

Speaking in parliament, he said the government would continue to seek visits by former island residents to
family graves, a humanitarian programme suspended by Russia. Japanese sanctions against Russia would stay in
place, he added, and the government would coordinate its policy with the Group of Seven.

Analysts in Tokyo said there was little prospect of negotiations resuming soon. Trade between the two
countries has fallen sharply, although Japanese companies keep stakes in the Sakhalin oil and gas projects."""


@pytest.fixture(scope="module")
def tass_text() -> str:
    return load_file(TASS, 10_000_000)[0].text


def test_signature_is_fixed_size_and_deterministic(tass_text):
    sig = neardup.signature(tass_text)
    assert isinstance(sig, bytes) and len(sig) == neardup.NUM_PERM * 4
    assert sig == neardup.signature(tass_text)
    assert len(neardup.signature("short")) == len(sig)


def test_signature_same_in_another_process():
    # stored signatures are compared with new ones later, so no per-process hash randomisation
    text = "The resumption of talks on the peace treaty with Tokyo is impossible"
    code = f"from retrieval.corpus.neardup import signature; import sys; sys.stdout.write(signature({text!r}).hex())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO,
                         env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert out.stdout == neardup.signature(text).hex()


def test_republished_with_new_headline_and_trailing_paragraph(tass_text):
    republished = ("Moscow says peace treaty talks with Tokyo are impossible\n\n" + tass_text +
                   "\n\nEarlier this week the Japanese foreign ministry declined to comment on the remarks.")
    score = neardup.similarity(neardup.signature(tass_text), neardup.signature(republished))
    assert score > neardup.THRESHOLD
    assert neardup.is_near_duplicate(neardup.signature(tass_text), neardup.signature(republished))


def test_republished_with_small_edits(tass_text):
    edited = (tass_text.replace("told TASS", "told the agency").replace("senior diplomat", "deputy minister")
              .replace("Tokyo’s", "Japan’s").replace("he said", "Rudenko said", 2))
    assert neardup.similarity(neardup.signature(tass_text), neardup.signature(edited)) > neardup.THRESHOLD


def test_different_story_on_the_same_topic(tass_text):
    score = neardup.similarity(neardup.signature(tass_text), neardup.signature(OTHER_STORY_SAME_TOPIC))
    assert score < neardup.THRESHOLD
    assert score < 0.1


def test_first_half_of_a_story_is_not_a_duplicate_of_the_whole(tass_text):
    paragraphs = tass_text.split("\n\n")
    half = "\n\n".join(paragraphs[: len(paragraphs) // 3])
    assert neardup.similarity(neardup.signature(tass_text), neardup.signature(half)) < neardup.THRESHOLD


def test_case_punctuation_and_yo_do_not_matter():
    a = "Всё это, по его словам, ещё раз подтверждает: переговоры невозможны в нынешних условиях."
    b = "ВСЕ ЭТО по его словам еще раз подтверждает переговоры невозможны в нынешних условиях"
    assert neardup.similarity(neardup.signature(a), neardup.signature(b)) == 1.0


def test_similarities_against_many(tass_text):
    sigs = [neardup.signature(t) for t in (tass_text, OTHER_STORY_SAME_TOPIC, tass_text + "\n\nExtra line here.")]
    sims = neardup.similarities(sigs[0], sigs)
    assert sims[0] == 1.0 and sims[1] < neardup.THRESHOLD < sims[2]
    assert sims[2] == pytest.approx(neardup.similarity(sigs[0], sigs[2]))
    assert len(neardup.similarities(sigs[0], [])) == 0


def test_bad_signature_rejected():
    with pytest.raises(ValueError):
        neardup.similarity(b"abc", neardup.signature("x"))


def test_corpus_reports_republished_story_and_force_adds_it(tmp_path, make_corpus, tass_text):
    corpus = make_corpus()
    assert [r.status for r in corpus.add_paths([TASS])] == ["added"]
    copy = tmp_path / "republished.txt"
    copy.write_text("Moscow rules out peace treaty talks with Japan\n\n" + tass_text +
                    "\n\nThe Japanese embassy in Moscow declined to comment.\n", encoding="utf-8")
    [result] = corpus.add_paths([copy])
    assert result.status == "near-duplicate" and result.reason == "near-duplicate" and result.duplicate_of == 1
    assert len(corpus.documents()) == 1
    [forced] = corpus.add_paths([copy], force=True)
    assert forced.status == "added" and len(corpus.documents()) == 2


def test_short_posts_sharing_a_channel_footer_are_not_duplicates():
    footer = "\n\n❤ [Подписаться](https://t.me/moscowtop) | [Прислать новость](https://t.me/moscowtop02_bot)"
    a = "Следующая остановка «Ремонтная мастерская»" + footer
    b = "Коротко о погоде в Москве" + footer
    assert neardup.similarity(neardup.signature(a), neardup.signature(b)) < neardup.THRESHOLD
    # the same post reposted with other formatting still is one
    c = "⚡️Президент Южной Кореи заявил, что отзовет военное положение на заседании правительства"
    d = "❗️Президент Южной Кореи заявил, что **отзовёт военное положение **на заседании правительства" + footer
    assert neardup.similarity(neardup.signature(c), neardup.signature(d)) > neardup.THRESHOLD
