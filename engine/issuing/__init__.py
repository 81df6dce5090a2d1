"""Issuing: documents the municipality issues — certificates rendered as PDF/A, sealed with
PAdES, and the public verification registry (status, revocation). Imports signing, storage,
forms and core.
"""
