"""Notifications to applicants: an outbox written with the state change, sent by the worker."""
