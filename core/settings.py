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

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
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
        description="An external PostgreSQL server, as the application's role (a member of polis_app "
        "that owns nothing; see Security); unset = the embedded cluster under var/pg.",
        examples=["postgresql+psycopg://polis_web:secret@db.example.gr:5432/polis"],
    )
    migration_database_url: str | None = Field(
        None,
        description="The same database as the role that owns the schema, for `polis db upgrade` and the "
        "migrations `polis run` applies; unset = POLIS_DATABASE_URL (one role for both, not recommended).",
        examples=["postgresql+psycopg://polis_owner:secret@db.example.gr:5432/polis"],
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
        description="Also let the embedded cluster listen on 127.0.0.1:PORT (Unix socket only if unset).",
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
        description="Public address of this Polis (links in emails and QR codes); default http://BIND.",
        examples=["https://polis.chania.gr"],
    )
    secret_key: SecretStr | None = Field(
        None,
        description="Signs sessions and download links. Required in production; generated "
        "and kept in var/secret_key otherwise.",
        examples=["a-long-random-string-of-64-characters"],
    )
    web_workers: int = Field(2, ge=1, le=64, description="gunicorn workers.", examples=[4])
    web_threads: int = Field(
        8,
        ge=1,
        le=256,
        description="Threads per gunicorn worker (gthread worker class): a slow client holds one "
        "thread, not a whole worker.",
        examples=[16],
    )
    web_statement_timeout_seconds: int = Field(
        30,
        ge=1,
        le=3600,
        description="Longest a web request's SQL statement may run before it is cancelled "
        "(the request answers 503).",
        examples=[60],
    )
    web_lock_timeout_seconds: int = Field(
        5,
        ge=1,
        le=600,
        description="Longest a web request waits for a row or table lock (e.g. a case the worker "
        "is sealing) before answering 503 'busy, try again'.",
        examples=[10],
    )
    proxy_count: int = Field(
        0,
        ge=0,
        le=5,
        description="Reverse proxies in front of Polis that append to X-Forwarded-For (and set "
        "X-Forwarded-Proto/Host); 0 = clients connect directly and forwarded headers are ignored.",
        examples=[1],
    )
    municipality_name: str = Field(
        "Δήμος Επίδειξης (DEMO)",
        min_length=2,
        description="Shown on pages, receipts and certificates.",
        examples=["Δήμος Χανίων"],
    )
    max_request_mb: int = Field(
        64,
        ge=1,
        le=2048,
        description="Largest HTTP request body (all of a submission's files together), in MB; "
        "each attachment kind has its own, smaller limit in the catalogue.",
        examples=[100],
    )
    clamd_address: str | None = Field(
        None,
        description="ClamAV daemon that scans every uploaded file (host:port or a Unix socket "
        "path); unset = no virus scan.",
        examples=["127.0.0.1:3310"],
    )
    submission_challenge_cost: int = Field(
        5000,
        ge=1,
        le=1_000_000,
        description="PBKDF2 iterations of each try of the proof-of-work challenge an anonymous "
        "submission must solve (ALTCHA); about 256 tries are needed, ~0.5 s of a browser's time at 5000.",
        examples=[10000],
    )
    submissions_per_address_hour: int = Field(
        10,
        ge=1,
        description="Submissions accepted per client address per hour (shared by every worker).",
        examples=[30],
    )
    submissions_per_contact_day: int = Field(
        5,
        ge=1,
        description="Submissions per destination email or phone per day (what a spammer would "
        "send notices to).",
        examples=[10],
    )
    submissions_without_script_per_address_day: int = Field(
        3,
        ge=1,
        description="Portal submissions per client address per day from a browser that cannot run "
        "the proof-of-work check (no JavaScript); each is still held until its email is confirmed.",
        examples=[5],
    )
    submissions_without_script_per_hour: int = Field(
        30,
        ge=1,
        description="Portal submissions without the proof-of-work check accepted per hour from "
        "everyone together (a flood that rotates addresses stops here).",
        examples=[60],
    )
    default_locale: Literal["el", "en"] = Field(
        "el", description="UI language until the reader picks the other one.", examples=["en"]
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
    smtp_host: str | None = Field(
        None,
        description="SMTP server for email to applicants; unset = emails wait in the outbox.",
        examples=["smtp.chania.gr"],
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP server port.", examples=[25])
    smtp_user: str | None = Field(
        None, description="SMTP login name (unset = no login).", examples=["polis@chania.gr"]
    )
    smtp_password: SecretStr | None = Field(None, description="SMTP password.", examples=["app-password"])
    smtp_from: str = Field(
        "Polis <noreply@localhost>",
        description="Sender of emails to applicants: an address, optionally with a name.",
        examples=["Δήμος Χανίων <noreply@chania.gr>"],
    )
    smtp_starttls: bool = Field(
        True,
        description="Upgrade the SMTP connection with STARTTLS (off only on a trusted relay).",
        examples=[False],
    )
    sms_gateway_url: str | None = Field(
        None,
        description="HTTP(S) endpoint of the SMS gateway, which receives JSON {to, text}; "
        "unset = SMS wait in the outbox.",
        examples=["https://sms.example.gr/api/send"],
    )
    sms_gateway_token: SecretStr | None = Field(
        None, description="Bearer token for the SMS gateway.", examples=["gw-token-123"]
    )
    sms_inbound_secret: SecretStr | None = Field(
        None,
        description="Shared secret of the municipal SMS gateway's inbound webhook "
        "(/api/v1/sms/inbound): sent as the X-Polis-SMS-Secret header or used as the HMAC-SHA256 "
        "key of the X-Polis-SMS-Signature header; unset = the webhook is off.",
        examples=["long-random-string"],
    )
    oidc_discovery_url: str | None = Field(
        None,
        description="OpenID Connect discovery document of the municipality's identity provider "
        "(its issuer + /.well-known/openid-configuration); unset = no OIDC sign-in.",
        examples=["https://id.example.gr/.well-known/openid-configuration"],
    )
    oidc_client_id: str | None = Field(
        None, description="Client id Polis is registered with at the identity provider.", examples=["polis"]
    )
    oidc_client_secret: SecretStr | None = Field(
        None,
        description="Client secret for the identity provider (unset = a public client, PKCE only).",
        examples=["client-secret"],
    )
    oidc_scopes: str = Field(
        "openid email profile",
        description="Scopes asked of the identity provider (space-separated; must include openid).",
        examples=["openid email profile phone"],
    )
    outbox_dir: Path | None = Field(
        None,
        description="Development: write email (.eml) and SMS (.txt) notices as files here instead "
        "of sending them, for the channels without an SMTP server or SMS gateway.",
        examples=["var/outbox"],
    )
    notification_max_attempts: int = Field(
        8,
        ge=1,
        le=50,
        description="Delivery attempts of a notification before it is marked failed.",
        examples=[5],
    )
    notification_retry_seconds: int = Field(
        60,
        ge=1,
        le=86400,
        description="Wait before the first retry of a notification; doubles after each failure.",
        examples=[120],
    )

    # Signing (issued documents are sealed with PAdES; see signing/) ----------------------
    signing_signer: Literal["demo", "pkcs12", "pkcs11", "csc"] = Field(
        "demo",
        description="Who seals issued documents: the generated demo e-seal (NOT qualified; "
        "not allowed in production), a PKCS#12 file, a PKCS#11 token/HSM or a CSC remote "
        "signing service.",
        examples=["pkcs11"],
    )
    signing_level: Literal["B-B", "B-T", "B-LT", "B-LTA"] = Field(
        "B-LT",
        description="PAdES level of issued documents (B-LT and B-LTA verify offline for years).",
        examples=["B-LTA"],
    )
    signing_tsa_url: str | None = Field(
        None,
        description="RFC 3161 time-stamping authority (qualified in production); needed for "
        "levels above B-B. Unset with the demo signer = the demo TSA.",
        examples=["http://tsa.example.gr/tsa"],
    )
    signing_trust_roots: str | None = Field(
        None,
        description="Comma-separated PEM/DER files of the root certificates signatures are "
        "checked against (the demo root is added with the demo signer).",
        examples=["/etc/polis/roots/hellenic-root.pem,/etc/polis/roots/eu-qtsp.pem"],
    )
    signing_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Timeout of TSA, OCSP, CRL and CSC calls.", examples=[20]
    )
    signing_pkcs12_path: Path | None = Field(
        None, description="PKCS#12 file of the seal (signer pkcs12).", examples=["/etc/polis/seal.p12"]
    )
    signing_pkcs12_passphrase: SecretStr | None = Field(
        None, description="Passphrase of the PKCS#12 file.", examples=["change-me"]
    )
    signing_pkcs11_module: Path | None = Field(
        None,
        description="PKCS#11 module of the token/HSM (signer pkcs11).",
        examples=["/usr/lib/softhsm/libsofthsm2.so"],
    )
    signing_pkcs11_token_label: str | None = Field(
        None, description="Label of the token holding the seal key.", examples=["polis-seal"]
    )
    signing_pkcs11_pin: SecretStr | None = Field(
        None, description="User PIN of the token.", examples=["123456"]
    )
    signing_pkcs11_key_label: str | None = Field(
        None, description="Label of the seal's private key on the token.", examples=["seal"]
    )
    signing_pkcs11_cert_file: Path | None = Field(
        None,
        description="The seal certificate, if it is not stored on the token under the key label.",
        examples=["/etc/polis/seal.pem"],
    )
    signing_chain_files: str | None = Field(
        None,
        description="Comma-separated CA certificate files embedded next to a token's certificate.",
        examples=["/etc/polis/ca/issuing-ca.pem"],
    )
    signing_csc_url: str | None = Field(
        None,
        description="Base URL of the CSC remote signing service (signer csc).",
        examples=["https://rss.example.gr"],
    )
    signing_csc_credential_id: str | None = Field(
        None, description="CSC credential id of the seal.", examples=["polis-eseal-01"]
    )
    signing_csc_token: SecretStr | None = Field(
        None, description="OAuth bearer token for the CSC service.", examples=["eyJhbGciOi..."]
    )
    signing_csc_pin: SecretStr | None = Field(
        None, description="PIN the CSC service asks to authorise signatures.", examples=["123456"]
    )
    officials_csc_url: str | None = Field(
        None,
        description="Base URL of the CSC remote signing service officials sign outgoing documents "
        "with; each signer gives their credential id, PIN and OTP on the signing page.",
        examples=["https://rss.example.gr"],
    )
    signing_demo_pki_port: int = Field(
        8799,
        ge=1024,
        le=65535,
        description="127.0.0.1 port of the demo TSA/OCSP/CRL (fixed when var/pki is generated).",
        examples=[8799],
    )

    @field_validator("database_url", "migration_database_url")
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

    @field_validator("smtp_from")
    @classmethod
    def _smtp_from_is_an_address(cls, value: str) -> str:
        from email.utils import parseaddr

        _name, address = parseaddr(value)
        if "@" not in address or any(char in value for char in "\r\n"):
            raise ValueError("must be an email address, optionally with a name: Name <user@host>")
        return value

    @field_validator("sms_gateway_url")
    @classmethod
    def _sms_gateway_is_http(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
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

    @model_validator(mode="after")
    def _signer_is_complete(self) -> Settings:
        required = {
            "pkcs12": ("signing_pkcs12_path",),
            "pkcs11": (
                "signing_pkcs11_module",
                "signing_pkcs11_token_label",
                "signing_pkcs11_pin",
                "signing_pkcs11_key_label",
            ),
            "csc": ("signing_csc_url", "signing_csc_credential_id"),
        }.get(self.signing_signer, ())
        problems = [
            f"{_env_name(name)} is required when POLIS_SIGNING_SIGNER={self.signing_signer}.{_example(name)}"
            for name in required
            if getattr(self, name) in (None, "")
        ]
        if self.signing_signer != "demo" and self.signing_level != "B-B" and not self.signing_tsa_url:
            problems.append(
                f"POLIS_SIGNING_TSA_URL is required for PAdES {self.signing_level}; set the "
                "address of a (qualified) time-stamping authority or use POLIS_SIGNING_LEVEL=B-B."
            )
        if problems:
            raise ValueError("\n  ".join(problems))
        return self

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
            if not error["loc"]:  # a check across several settings names them itself
                problems.append(error["msg"].removeprefix("Value error, "))
                continue
            field = str(error["loc"][0])
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
