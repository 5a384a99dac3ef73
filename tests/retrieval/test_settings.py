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
    ({"CITEBOT_MAX_FILE_MB": "-3"}, "at least 1"),
    ({"CITEBOT_THREADS": "two"}, "not a valid int"),
])
def test_nonsense_values_name_the_variable(env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env=env)


def test_every_setting_has_an_env_name_and_help():
    names = [s.env for s in SETTINGS]
    assert len(names) == len(set(names))
    assert all(s.env.startswith("CITEBOT_") and len(s.help) > 10 for s in SETTINGS)
