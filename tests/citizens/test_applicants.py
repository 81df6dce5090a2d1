"""Applicant accounts: registration, email confirmation, sign-in and OIDC logins."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from engine.people.applicants import (
    EMAIL_TOKEN_TTL,
    authenticate,
    get_applicant,
    issue_email_token,
    login_or_create_from_oidc,
    register,
    verify_email,
)
from engine.people.applicants.models import EmailVerificationToken

SECRET = "test-secret-for-applicant-tokens"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ISSUER = "https://idp.example.gr/realms/polis"


def _register(session, email="Eleni.P@Example.GR", **extra):
    return register(
        session,
        email=email,
        full_name="  Ελένη   Παπαδοπούλου ",
        password="correct horse battery",
        secret=SECRET,
        now=NOW,
        **extra,
    )


def test_register_verify_and_sign_in(db_session):
    applicant, token = _register(db_session, phone="691 234 5678", preferred_channel="both")
    assert applicant.email == "eleni.p@example.gr"
    assert applicant.full_name == "Ελένη Παπαδοπούλου"
    assert applicant.phone == "6912345678"
    assert applicant.password_hash.startswith("$argon2id$")
    with pytest.raises(PermissionDenied, match="Confirm your email first"):
        authenticate(db_session, "eleni.p@example.gr", "correct horse battery")
    assert verify_email(db_session, token, secret=SECRET, now=NOW + timedelta(hours=1)) is applicant
    assert applicant.email_verified_at == NOW + timedelta(hours=1)
    assert authenticate(db_session, " ELENI.P@example.gr ", "correct horse battery") is applicant
    assert get_applicant(db_session, str(applicant.id)) is applicant


def test_only_a_keyed_hash_of_the_token_is_stored(db_session):
    applicant, token = _register(db_session)
    stored = db_session.scalars(
        select(EmailVerificationToken.token_hash).where(EmailVerificationToken.applicant_id == applicant.id)
    ).all()
    assert len(stored) == 1
    assert token not in stored[0]
    # The same token under another instance's secret is worthless.
    with pytest.raises(InvalidInput, match="not valid"):
        verify_email(db_session, token, secret="another-secret", now=NOW)


def test_tokens_are_single_use_and_expire(db_session):
    applicant, token = _register(db_session)
    verify_email(db_session, token, secret=SECRET, now=NOW)
    with pytest.raises(Conflict, match="used already"):
        verify_email(db_session, token, secret=SECRET, now=NOW)
    late = issue_email_token(db_session, applicant, secret=SECRET, now=NOW)
    with pytest.raises(InvalidInput, match="expired"):
        verify_email(db_session, late, secret=SECRET, now=NOW + EMAIL_TOKEN_TTL)
    with pytest.raises(InvalidInput, match="not valid"):
        verify_email(db_session, "'; DROP TABLE applicants; --", secret=SECRET, now=NOW)


def test_email_is_unique_whatever_its_case(db_session):
    _register(db_session)
    with pytest.raises(Conflict, match="exists already"):
        _register(db_session, email="ELENI.P@example.gr")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"email": "not-an-email"}, "is not an email address"),
        ({"preferred_channel": "pigeon"}, "channel 'pigeon' is unknown"),
        ({"preferred_channel": "sms"}, "SMS notifications need a mobile phone"),
        ({"phone": "12"}, "not a Greek phone number"),
        ({"preferred_locale": "fr"}, "Language 'fr' is not offered"),
    ],
)
def test_bad_registrations_are_refused_clearly(db_session, extra, message):
    with pytest.raises(InvalidInput, match=message):
        _register(db_session, **extra)


def test_short_password_is_refused(db_session):
    with pytest.raises(InvalidInput, match="at least 8"):
        register(db_session, email="a@example.gr", full_name="Α Β Γ", password="short", secret=SECRET)


def test_wrong_password_and_unknown_email_look_the_same(db_session):
    _applicant, token = _register(db_session)
    verify_email(db_session, token, secret=SECRET, now=NOW)

    def attempt(email: str) -> tuple[str, float]:
        start = time.perf_counter()
        with pytest.raises(PermissionDenied) as error:
            authenticate(db_session, email, "wrong password")
        return error.value.message, time.perf_counter() - start

    known = [attempt("eleni.p@example.gr") for _ in range(5)]
    unknown = [attempt("nobody@example.gr") for _ in range(5)]
    assert {m for m, _ in known} == {m for m, _ in unknown} == {"Wrong email or password."}
    # Both paths run one argon2 verification. The fastest of five is the least disturbed by
    # other work on a busy 2-core machine (a median still caught a neighbour's burst).
    ratio = min(t for _, t in known) / min(t for _, t in unknown)
    assert 0.5 < ratio < 2.0


def test_oidc_creates_then_finds_the_same_applicant(db_session):
    claims = {
        "sub": "taxis-123456789",
        "name": "Γιώργος Μαρκάκης",
        "email": "G.Markakis@example.gr",
        "email_verified": True,
        "locale": "en-GB",
    }
    first = login_or_create_from_oidc(db_session, ISSUER, claims, now=NOW)
    assert first.email == "g.markakis@example.gr"
    assert first.email_verified_at == NOW
    assert first.preferred_locale == "en"
    assert first.password_hash is None
    again = login_or_create_from_oidc(db_session, ISSUER, {"sub": "taxis-123456789"})
    assert again is first
    other_idp = login_or_create_from_oidc(db_session, "https://other.example", {"sub": "taxis-123456789"})
    assert other_idp is not first
    assert other_idp.email is None


def test_oidc_links_a_password_account_only_when_both_verified_the_email(db_session):
    applicant, token = _register(db_session)
    unverified = {"sub": "u-1", "email": "eleni.p@example.gr", "email_verified": False}
    with pytest.raises(Conflict, match="Sign in with its password first"):
        login_or_create_from_oidc(db_session, ISSUER, unverified)
    verified = {"sub": "u-1", "email": "eleni.p@example.gr", "email_verified": True}
    with pytest.raises(Conflict):  # our side has not confirmed the address yet
        login_or_create_from_oidc(db_session, ISSUER, verified)
    verify_email(db_session, token, secret=SECRET, now=NOW)
    assert login_or_create_from_oidc(db_session, ISSUER, verified) is applicant
    assert (applicant.oidc_issuer, applicant.oidc_subject) == (ISSUER, "u-1")


def test_oidc_without_subject_is_refused(db_session):
    with pytest.raises(InvalidInput, match="no issuer or subject"):
        login_or_create_from_oidc(db_session, ISSUER, {"email": "x@example.gr"})


def test_unknown_applicant(db_session):
    with pytest.raises(NotFound):
        get_applicant(db_session, "not-a-uuid")
