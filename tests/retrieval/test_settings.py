import pytest

from retrieval.settings import SETTINGS, SettingsError, load_settings


def test_defaults_and_sources():
    settings = load_settings(env={"CITEBOT_TOP_K": "5"})
    assert settings.top_k == 5 and settings.sources["top_k"] == "env CITEBOT_TOP_K"
    assert settings.min_score is None and settings.sources["min_score"] == "default"  # calibrated per embedder
    assert settings.embedder == "use-multilingual"


@pytest.mark.parametrize("env, message", [
    ({"CITEBOT_TOP_K": "0"}, "CITEBOT_TOP_K='0' is out of range"),
    ({"CITEBOT_LEXICAL_WEIGHT": "1.5"}, "between 0.0 and 1.0"),
    ({"CITEBOT_MAX_FILE_MB": "-3"}, "between 1 and 4096"),
    ({"CITEBOT_THREADS": "two"}, "not a valid int"),
])
def test_nonsense_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env=env)


def test_every_setting_has_an_env_name_and_help():
    names = [s.env for s in SETTINGS]
    assert len(names) == len(set(names))
    assert all(s.env.startswith("CITEBOT_") and len(s.help) > 10 for s in SETTINGS)


@pytest.mark.parametrize("env, message", [
    ({"CITEBOT_FUSION": "rfr"}, r"^CITEBOT_FUSION='rfr' is not one of: convex, rrf$"),
    ({"CITEBOT_LEXICAL_WEIGHT": "nan"}, r"CITEBOT_LEXICAL_WEIGHT='nan' is not a valid float: it must be a finite number"),
    ({"CITEBOT_MIN_SCORE": "NaN"}, r"CITEBOT_MIN_SCORE='NaN' is not a valid float"),
    ({"CITEBOT_LEXICAL_WEIGHT": "inf"}, r"is not a valid float"),
    ({"CITEBOT_MAX_FILE_MB": "99999999999999"}, r"CITEBOT_MAX_FILE_MB='99999999999999' is out of range: it must be between 1 and 4096"),
    ({"CITEBOT_THREADS": "100000"}, r"CITEBOT_THREADS='100000' is out of range: it must be between 1 and 256"),
    ({"CITEBOT_TOP_K": "9" * 5000}, r"CITEBOT_TOP_K='9+' is not a valid int: too many digits"),
    ({"CITEBOT_PASSAGE_MIN_WORDS": "130", "CITEBOT_PASSAGE_MAX_WORDS": "120"},
     r"CITEBOT_PASSAGE_MIN_WORDS=130 is more than CITEBOT_PASSAGE_MAX_WORDS=120"),
])
def test_impossible_values_are_refused_in_one_line(env, message):
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings(env=env)
    assert "\n" not in str(caught.value)


def test_flags_cannot_make_min_words_exceed_max_words():
    with pytest.raises(SettingsError, match="is more than"):
        load_settings(env={}).replace(passage_min_words=500)


@pytest.mark.parametrize("raw", ["", "  "])
def test_empty_home_means_the_default_not_the_working_directory(raw):
    settings = load_settings(env={"CITEBOT_HOME": raw})
    assert settings.home == ".citebot" and settings.sources["home"] == "default"


def test_typed_view_has_every_retrieval_setting_with_its_kind():
    import typing
    from dataclasses import fields

    from retrieval.settings import Typed

    hints = typing.get_type_hints(Typed)
    assert [f.name for f in fields(Typed)] == [s.name for s in SETTINGS]
    for s in SETTINGS:
        hint = hints[s.name]
        assert s.kind in typing.get_args(hint) or s.kind in (hint, typing.get_origin(hint)), s.name
    typed = load_settings(env={"CITEBOT_TOP_K": "7", "CITEBOT_ALLOW_PRIVATE_URLS": "yes"}).typed
    assert typed.top_k == 7 and typed.allow_private_urls is True and typed.fusion == "convex"


def test_docs_table_states_the_choices_and_ranges():
    from retrieval.settings import markdown_table

    table = markdown_table(SETTINGS)
    assert "One of: `convex`, `rrf`." in table and "Range 1–256." in table
