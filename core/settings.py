"""Settings from ``POLIS_*`` environment variables (and an optional ``.env``), validated once.

A missing, malformed or unknown variable stops the program with a message that names the
variable and shows a good value; nothing else in Polis reads the environment.
"""

from __future__ import annotations

import difflib
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.errors import ConfigurationError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "POLIS_"
#: Variables read by the test suite only (see tests/conftest.py); never by the application.
TEST_ONLY_PREFIX = "POLIS_TEST_"


class Settings(BaseSettings):
    """Every setting Polis reads. The README's settings table mirrors this class."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="forbid",
        validate_default=True,
    )

    env: Literal["development", "production", "test"] = Field(
        "development", description="Deployment kind.", examples=["production"]
    )
    var_dir: Path = Field(
        PROJECT_ROOT / "var",
        description="Where the embedded database, files, keys and logs live.",
        examples=["/srv/polis/var"],
    )
    database_url: str | None = Field(
        None,
        description="An external PostgreSQL server; unset = the embedded cluster under var/pg.",
        examples=["postgresql+psycopg://polis:secret@db.example.gr:5432/polis"],
    )
    pg_bin_dir: Path | None = Field(
        None,
        description="PostgreSQL server binaries for the embedded cluster (found if unset).",
        examples=["/usr/lib/postgresql/15/bin"],
    )
    pg_tcp_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Also let the embedded cluster listen on 127.0.0.1:PORT (Unix socket only "
        "if unset).",
        examples=[54321],
    )
    storage_url: str | None = Field(
        None,
        description="Object storage: file:///path or s3://key:secret@host:port/bucket"
        "?secure=false; unset = file storage under var/objects.",
        examples=["s3://polis:secret123@minio.example.gr:9000/polis?secure=true"],
    )
    storage_retention_days: int = Field(
        0,
        ge=0,
        description="S3 object-lock retention for every stored object, in days (0 = none).",
        examples=[3650],
    )
    storage_retention_mode: Literal["GOVERNANCE", "COMPLIANCE"] = Field(
        "GOVERNANCE", description="S3 object-lock mode.", examples=["COMPLIANCE"]
    )
    bind: str = Field(
        "127.0.0.1:8000", description="host:port the web server listens on.", examples=["0.0.0.0:8000"]
    )
    base_url: str | None = Field(
        None,
        description="Public address of this Polis (links in emails and QR codes); "
        "default http://BIND.",
        examples=["https://polis.chania.gr"],
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs sessions and download links. Required in production; generated "
        "and kept in var/secret_key otherwise.",
        examples=["a-long-random-string-of-64-characters"],
    )
    web_workers: int = Field(2, ge=1, le=64, description="gunicorn workers.", examples=[4])
    municipality_name: str = Field(
        "Δήμος Επίδειξης (DEMO)",
        min_length=2,
        description="Shown on pages, receipts and certificates.",
        examples=["Δήμος Χανίων"],
    )
    default_locale: Literal["el", "en"] = Field(
        "el", description="UI language when the browser asks for none we have.", examples=["en"]
    )
    timezone: str = Field(
        "Europe/Athens", description="Time zone for people (storage is UTC).", examples=["Europe/Athens"]
    )
    download_url_ttl_seconds: int = Field(
        300, ge=10, le=7 * 24 * 3600, description="Lifetime of download links.", examples=[600]
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Logging level.", examples=["DEBUG"]
    )

    @field_validator("database_url")
    @classmethod
    def _database_url_is_postgres(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a PostgreSQL URL starting with postgresql://")
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @field_validator("storage_url")
    @classmethod
    def _storage_url_scheme(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = urlsplit(value).scheme
        if scheme not in ("file", "s3"):
            raise ValueError("must start with file:// or s3://")
        return value

    @field_validator("bind")
    @classmethod
    def _bind_is_host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be host:port, with a port from 1 to 65535")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known time zone name") from exc
        return value

    # Derived values -------------------------------------------------------------------

    @property
    def public_base_url(self) -> str:
        """The address people use to reach this Polis, without a trailing slash."""
        return (self.base_url or f"http://{self.bind}").rstrip("/")

    @property
    def effective_storage_url(self) -> str:
        """The storage URL, defaulting to file storage under var/objects."""
        return self.storage_url or (self.var_dir / "objects").resolve().as_uri()

    def secret(self) -> str:
        """The secret key; outside production one is generated once and kept in var/."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        if self.env == "production":
            raise ConfigurationError(
                "POLIS_SECRET_KEY is required in production. Set it to a long random string, "
                "e.g. POLIS_SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')."
            )
        path = self.var_dir / "secret_key"
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
            return path.read_text().strip()
        except FileExistsError:
            return path.read_text().strip()
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot keep the secret key in {path}: {exc.strerror}. Make {self.var_dir} "
                "writable, point POLIS_VAR_DIR at a writable directory, or set POLIS_SECRET_KEY."
            ) from exc


def _env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _example(field: str) -> str:
    info = Settings.model_fields.get(field)
    if info is None or not info.examples:
        return ""
    return f" Example: {_env_name(field)}={info.examples[0]}"


def _unknown_variables(environ: dict[str, str]) -> list[str]:
    known = {_env_name(name) for name in Settings.model_fields}
    problems = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name.startswith(TEST_ONLY_PREFIX) or name in known:
            continue
        close = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        problems.append(f"{name} is not a Polis setting.{hint}")
    return problems


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; raise ConfigurationError naming each bad variable."""
    problems = _unknown_variables(dict(os.environ))
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            if error["type"] == "extra_forbidden":
                problems.append(f"{_env_name(field)} (in .env) is not a Polis setting.")
                continue
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"{_env_name(field)}: {message}.{_example(field)}")
        settings = None
    if problems:
        raise ConfigurationError("Invalid settings:\n  " + "\n  ".join(problems))
    assert settings is not None
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
