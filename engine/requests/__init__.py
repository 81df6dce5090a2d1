"""Citizens' requests: submission (files, protocol ΕΙΣ, the case), tracking, supplied documents."""

from __future__ import annotations

from engine.requests.submission import (
    ApplicantInfo,
    IdempotencyKeyReused,
    Submission,
    SubmissionInvalid,
    Upload,
    submit_request,
)
from engine.requests.tracking import Tracking, track, tracking_sms_text

__all__ = [
    "ApplicantInfo",
    "IdempotencyKeyReused",
    "Submission",
    "SubmissionInvalid",
    "Tracking",
    "Upload",
    "submit_request",
    "track",
    "tracking_sms_text",
]
