"""Polis core: settings, database session, base errors. Imports nothing else of Polis."""
