"""``polis catalogue``: check and list the services citizens can request."""

from __future__ import annotations

from pathlib import Path

import click

from forms.catalogue import CATALOGUE_DIR, load_catalogue


@click.group()
def catalogue() -> None:
    """The service catalogue (forms/catalogue/<code>/)."""


@catalogue.command()
@click.option(
    "--path",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=CATALOGUE_DIR,
    show_default=True,
    help="A catalogue folder to check, e.g. one being prepared for a municipality.",
)
def check(path: Path) -> None:
    """Load every service and report each file and field to fix (exit status 1 if any)."""
    services = load_catalogue(path).all()
    click.echo(f"{len(services)} services, all valid: {', '.join(s.code for s in services)}")


@catalogue.command(name="list")
@click.option("--lang", type=click.Choice(["el", "en"]), default="el", show_default=True)
def list_(lang: str) -> None:
    """One line per service: code, department, deadline, validity, fee, title."""
    for service in load_catalogue().all():
        validity = f"{service.validity_months} m" if service.validity_months else "—"
        click.echo(
            f"{service.code:24} {service.department:5} {service.deadline_working_days:>3} wd "
            f"{validity:>5} {service.fee_eur:>7} €  {service.title.get(lang)}"
        )
