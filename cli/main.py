"""``polis``: the operators' command line.

Every command reads the validated settings; a Polis error ends the command with its
message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from cli.context import LazySettings
from core.errors import PolisError
from engine.domains import load_domains


class PolisGroup(click.Group):
    """A click group that turns Polis errors into one clear message and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PolisError as exc:
            click.secho(f"polis: {exc.message}", fg="red", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("polis: interrupted", err=True)
            sys.exit(130)


@click.group(cls=PolisGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """Polis: BPMN case and document management for municipalities."""
    ctx.obj = LazySettings()
    load_domains()


# Command groups registered by the packages that own them. Each entry is a callable that
# returns a click command; imports happen lazily so one broken area cannot break the CLI.
def _register(loader: Callable[[], click.Command]) -> None:
    main.add_command(loader())


def _db() -> click.Command:
    from cli.database import db

    return db


def _storage() -> click.Command:
    from cli.storage import storage

    return storage


def _run() -> click.Command:
    from cli.run import run

    return run


def _demo() -> click.Command:
    from cli.run import demo

    return demo


def _catalogue() -> click.Command:
    from cli.catalogue import catalogue

    return catalogue


def _protocol() -> click.Command:
    from cli.protocol import protocol

    return protocol


def _mail() -> click.Command:
    from cli.mail import mail

    return mail


def _tokens() -> click.Command:
    from cli.tokens import tokens

    return tokens


def _org_commands() -> list[click.Command]:
    from cli.org import documents, org, substitutions, users

    return [org, users, substitutions, documents]


def _engine_commands() -> list[click.Command]:
    from cli.engine import audit, incidents, messages, processes, worker

    return [processes, worker, audit, incidents, messages]


for _loader in (_db, _storage, _run, _demo, _catalogue, _protocol, _mail, _tokens):
    _register(_loader)
for _command in [*_engine_commands(), *_org_commands()]:
    main.add_command(_command)
