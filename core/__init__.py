"""Polis core: settings, database (ORM base, sessions, embedded cluster, migrations), clock and
working-day calendar, base errors. Imports nothing else of Polis."""
