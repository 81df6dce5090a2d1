"""Reliability tests reuse the engine's fixtures (committed databases, the organisation)."""

from tests.engine.conftest import committed_engine, committed_org, org

__all__ = ["committed_engine", "committed_org", "org"]
