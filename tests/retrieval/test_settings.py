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


def test_each_setting_reads_as_an_attribute_of_its_declared_kind():
    settings = load_settings(env={"CITEBOT_TOP_K": "7", "CITEBOT_ALLOW_PRIVATE_URLS": "yes"})
    assert settings.top_k == 7 and settings.allow_private_urls is True and settings.fusion == "convex"
    for s in SETTINGS:
        value = getattr(settings, s.name)
        assert value is None or isinstance(value, s.kind), s.name
    with pytest.raises(AttributeError):
        settings.no_such_setting


def test_defaults_are_read_from_the_declarations():
    from retrieval.ingest.options import DEFAULT_DEADLINE, DEFAULT_MAX_BYTES, IngestOptions
    from retrieval.settings import default

    assert default("max_file_mb") == 50 and DEFAULT_MAX_BYTES == 50 * 1024 * 1024
    assert DEFAULT_DEADLINE == default("fetch_deadline")
    assert IngestOptions.from_settings(load_settings(env={"CITEBOT_MAX_FILE_MB": "2"})).max_bytes == 2 * 1024 * 1024
    with pytest.raises(KeyError):
        default("no_such_setting")


def test_settings_come_in_two_tiers_with_the_user_tier_small():
    from api.settings import API_SETTINGS
    from bot.settings import BOT_SETTINGS
    from retrieval.settings import Setting

    declared = SETTINGS + BOT_SETTINGS + API_SETTINGS
    user = {s.env for s in declared if not s.advanced}
    assert 15 <= len(user) <= 20, sorted(user)
    assert {"CITEBOT_HOME", "CITEBOT_DATABASE_URL", "CITEBOT_EMBEDDER", "CITEBOT_LLM_URL", "TELEGRAM_BOT_TOKEN",
            "CITEBOT_TELEGRAM_ADMINS", "CITEBOT_TELEGRAM_WEBHOOK_URL", "CITEBOT_MAX_FILE_MB"} <= user
    assert {"CITEBOT_LEXICAL_WEIGHT", "CITEBOT_ANN_THRESHOLD", "CITEBOT_BATCH_SIZE", "CITEBOT_API_CONCURRENCY"} <= {
        s.env for s in declared if s.advanced}
    with pytest.raises(ValueError, match="tier"):
        Setting("x", 1, "X", "help", int, tier="expert")


def test_a_bad_setting_is_a_user_error_with_a_code():
    from retrieval import UserError

    with pytest.raises(UserError) as caught:
        load_settings(env={"CITEBOT_TOP_K": "many"})
    assert isinstance(caught.value, SettingsError) and caught.value.code == "bad_setting"


def test_docs_table_states_the_choices_and_ranges():
    from retrieval.settings import markdown_table

    table = markdown_table(SETTINGS)
    assert "One of: `convex`, `rrf`." in table and "Range 1–256." in table
    user, advanced = table.split("### Advanced settings")
    assert "`CITEBOT_HOME`" in user and "`CITEBOT_HOME`" not in advanced
    assert "`CITEBOT_LEXICAL_WEIGHT`" in advanced and "`CITEBOT_LEXICAL_WEIGHT`" not in user
