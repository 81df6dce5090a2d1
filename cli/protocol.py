"""``polis protocol``: the register book for the protocol office and the archive."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TextIO

import click

from cli.context import settings_of
from core.database import database_url
from core.orm import make_engine, make_session_factory, session_scope
from engine.protocol.entries import create_registry
from engine.protocol.export import count_book, csv_lines, iter_book, json_chunks


@click.group()
def protocol() -> None:
    """Protocol registry (πρωτόκολλο)."""


@protocol.command("add-registry")
@click.argument("code")
@click.argument("name_el")
@click.argument("name_en")
@click.pass_context
def add_registry(ctx: click.Context, code: str, name_el: str, name_en: str) -> None:
    """Add a registry besides the general one (GEN), e.g. one per directorate."""
    engine = make_engine(database_url(settings_of(ctx)))
    try:
        with session_scope(make_session_factory(engine)) as session:
            create_registry(session, code, name_el, name_en)
    finally:
        engine.dispose()
    click.echo(f"Registry {code} added; its numbering starts at 1 with its first entry.")


@protocol.command()
@click.option("--year", type=int, required=True, help="The year of the book, e.g. 2026.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--registry", default=None, help="Only this registry (code, e.g. GEN); all if unset.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write here instead of standard output.",
)
@click.pass_context
def export(ctx: click.Context, year: int, fmt: str, registry: str | None, output: Path | None) -> None:
    """Write the yearly register book as CSV or JSON, streaming, with a progress bar."""
    engine = make_engine(database_url(settings_of(ctx)))
    try:
        with session_scope(make_session_factory(engine)) as session, ExitStack() as files:
            total = count_book(session, year, registry)
            target: TextIO = (
                sys.stdout
                if output is None
                else files.enter_context(output.open("w", encoding="utf-8", newline=""))
            )
            with click.progressbar(length=total, label=f"protocol {year}", file=sys.stderr) as bar:

                def counted() -> Iterator[dict[str, Any]]:
                    for row in iter_book(session, year, registry):
                        bar.update(1)
                        yield row

                for chunk in csv_lines(counted()) if fmt == "csv" else json_chunks(counted()):
                    target.write(chunk)
            target.flush()
    finally:
        engine.dispose()
    click.echo(f"{total} entries of {year} exported.", err=True)
