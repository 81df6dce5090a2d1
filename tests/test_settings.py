"""Settings: validated once, with messages that name the variable and show a good value."""

from __future__ import annotations

import pytest

from core.errors import ConfigurationError
from core.settings import Settings, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in list(__import__("os").environ):
        if name.startswith("POLIS_") and not name.startswith("POLIS_TEST_"):
            monkeypatch.delenv(name)


def test_defaults_are_the_embedded_setup(tmp_path, monkeypatch):
    monkeypatch.setenv("POLIS_VAR_DIR", str(tmp_path / "var"))
    settings = load_settings()
    assert settings.database_url is None
    assert settings.effective_storage_url == (tmp_path / "var" / "objects").as_uri()
    assert settings.bind == "127.0.0.1:8000"
    assert settings.public_base_url == "http://127.0.0.1:8000"
    assert settings.default_locale == "el"


def test_unknown_variable_is_named_with_a_suggestion(monkeypatch):
    monkeypatch.setenv("POLIS_STORAG_URL", "file:///tmp/x")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert "POLIS_STORAG_URL is not a Polis setting" in error.value.message
    assert "Did you mean POLIS_STORAGE_URL?" in error.value.message


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("POLIS_BIND", "8000", "POLIS_BIND: must be host:port"),
        ("POLIS_DATABASE_URL", "mysql://db/polis", "POLIS_DATABASE_URL: must be a PostgreSQL URL"),
        ("POLIS_STORAGE_URL", "ftp://files", "POLIS_STORAGE_URL: must start with file:// or s3://"),
        ("POLIS_WEB_WORKERS", "many", "POLIS_WEB_WORKERS"),
        ("POLIS_TIMEZONE", "Mars/Olympus", "POLIS_TIMEZONE: is not a known time zone"),
        ("POLIS_ENV", "staging", "POLIS_ENV"),
    ],
)
def test_malformed_values_name_the_variable_and_show_an_example(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert expected in error.value.message
    assert "Example: " + name + "=" in error.value.message


def test_every_problem_is_reported_at_once(monkeypatch):
    monkeypatch.setenv("POLIS_BIND", "nope")
    monkeypatch.setenv("POLIS_WEB_WORKERS", "0")
    with pytest.raises(ConfigurationError) as error:
        load_settings()
    assert "POLIS_BIND" in error.value.message
    assert "POLIS_WEB_WORKERS" in error.value.message


def test_dotenv_file_is_read_and_unknown_keys_there_refused(tmp_path):
    (tmp_path / ".env").write_text("POLIS_MUNICIPALITY_NAME=Δήμος Χανίων\n")
    assert load_settings().municipality_name == "Δήμος Χανίων"
    (tmp_path / ".env").write_text("POLIS_NO_SUCH_THING=1\n")
    with pytest.raises(ConfigurationError, match="POLIS_NO_SUCH_THING"):
        load_settings()


def test_postgres_urls_are_normalised_to_psycopg(monkeypatch):
    monkeypatch.setenv("POLIS_DATABASE_URL", "postgres://u:p@db:5432/polis")
    assert load_settings().database_url == "postgresql+psycopg://u:p@db:5432/polis"


def test_secret_is_generated_once_and_kept(tmp_path):
    settings = Settings(var_dir=tmp_path / "var")
    first = settings.secret()
    assert len(first) >= 48
    assert Settings(var_dir=tmp_path / "var").secret() == first
    assert oct((tmp_path / "var" / "secret_key").stat().st_mode)[-3:] == "600"


def test_production_requires_a_secret(tmp_path):
    with pytest.raises(ConfigurationError, match="POLIS_SECRET_KEY is required in production"):
        Settings(env="production", var_dir=tmp_path).secret()


def test_readme_documents_every_setting():
    from core.settings import PROJECT_ROOT

    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    missing = [
        f"POLIS_{name.upper()}" for name in Settings.model_fields if f"`POLIS_{name.upper()}`" not in readme
    ]
    assert missing == []
