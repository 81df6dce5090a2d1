"""Applicants (citizens): registration, email verification, sign-in, OIDC."""
