"""`flask demo load`: the demo data set, loaded idempotently."""
from __future__ import annotations

import click
from flask.cli import AppGroup

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
def load_command():
    """Load the demo data (idempotent)."""
    from data.demo import build

    summary = build.load_all()
    for key, value in summary.items():
        click.echo(f"{key}: {value}")
