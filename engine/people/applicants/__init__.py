"""Applicants (citizens): registration, email verification, sign-in, OIDC."""

from engine.people.applicants.accounts import (
    EMAIL_TOKEN_TTL,
    authenticate,
    get_applicant,
    issue_email_token,
    login_or_create_from_oidc,
    normalise_email,
    register,
    verify_email,
)

__all__ = [
    "EMAIL_TOKEN_TTL",
    "authenticate",
    "get_applicant",
    "issue_email_token",
    "login_or_create_from_oidc",
    "normalise_email",
    "register",
    "verify_email",
]
