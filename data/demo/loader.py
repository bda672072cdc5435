"""`flask demo load`: the demo data set, loaded idempotently.

The places, accounts and roles come first (data/demo/build.py); then each domain's demo data
(``data/demo/<name>.py``, found through the domain registry) in the order their needs give: a domain's
module offers ``load(spec) -> int`` (rows added), and may name tables to count in ``COUNTS`` and say with
``REFERENCE = True`` that its data is reference data, loaded even when the activity is left out.
"""
from __future__ import annotations

from pathlib import Path

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from data.demo import build
from models.base import db
from service import registry

demo_cli = AppGroup("demo", help="Demo data.")


def load_all(path: Path = build.PLACES_FILE, *, activity: bool = True) -> dict:
    """Load the demo data set (idempotent); return row counts and how many rows were added. The places and
    accounts are one transaction; each domain's demo data follows through its own use-cases, unless
    ``activity`` is false (then only the domains' reference data, such as facilities, is loaded)."""
    loader = build.Loader(build.load_spec(path))
    try:
        loader.load_places()
        loader.load_units()
        # The generated register leaves the demo owners' units free; their titles come with the accounts.
        loader.load_owners()
        loader.load_staff()
        loader.load_demo_users()
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    added = loader.added
    counted = {}
    for domain in registry.in_demo_order():
        module = domain.module("demo")
        if module is None:
            continue
        if activity or getattr(module, "REFERENCE", False):
            added += module.load(loader.spec)
        counted.update(getattr(module, "COUNTS", {}))
    counts = {name: db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()
              for name, model in counted.items()}
    return {**build.counts(), **counts, "rows_added": added}


@demo_cli.command("load")
def load_command():
    """Load the demo data (idempotent)."""
    summary = load_all()
    for key, value in summary.items():
        click.echo(f"{key}: {value}")
