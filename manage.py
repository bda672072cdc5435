"""The ``flask`` command's app (``FLASK_APP=manage.py``): the API app with the operators' commands,
``flask db`` (migrations), ``flask jobs`` (the scheduler), ``flask demo`` (demo data), ``flask calendar``
(holiday arrangements), ``flask uploads`` (moving files into the storage), ``flask auth`` (adopting the
revocations an earlier version kept in Redis), ``flask domains`` and each domain's own group
(``jobs/<name>.py`` ``CLI``).

Production serves ``wsgi:app``, which carries none of these commands and never imports the demo data.
"""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from api import app as api_app
from data.demo.loader import demo_cli
from jobs.calendar import calendar_cli
from jobs.runner import all_jobs, jobs_cli
from jobs.system import privacy_cli
from jobs.uploads import uploads_cli
from service import registry

domains_cli = AppGroup("domains", help="The domains the registry found.")
auth_cli = AppGroup("auth", help="Token revocations.")


@auth_cli.command("adopt-redis-revocations")
def adopt_redis_revocations():
    """Once, on upgrade: copy the revocations an earlier version kept in Redis (REDIS_URL) into the database."""
    from service import auth, redis_client

    link = redis_client.link()
    if link is None:
        raise click.ClickException("REDIS_URL is not set: there is nothing to adopt")
    click.echo(f"{auth.adopt_redis_revocations(link.client)} revocations added")


@domains_cli.command("list")
def list_domains():
    """Each domain with its roles, scope types, sweeps and demo data."""
    sweeps: dict[str, int] = {}
    for job in all_jobs():
        sweeps[job.id.split(".")[0]] = sweeps.get(job.id.split(".")[0], 0) + 1
    for domain in registry.domains():
        roles = ", ".join(f"{role}@{'/'.join(scopes)}" for role, scopes in domain.roles.items()) or "-"
        demo = "yes" if domain.module("demo") is not None else "no"
        click.echo(f"{domain.name}\t{domain.title}\troles: {roles}\tsweeps: {sweeps.get(domain.name, 0)}"
                   f"\tdemo: {demo}")


def register_cli(app: Flask) -> Flask:
    """Add the operators' commands to ``app``."""
    for group in (jobs_cli, demo_cli, calendar_cli, uploads_cli, domains_cli, auth_cli, privacy_cli):
        app.cli.add_command(group)
    for domain in registry.domains():
        group = domain.part("jobs", "CLI")
        if group is not None:
            app.cli.add_command(group)
    return app


def create_app(config: dict | None = None, profile: str | None = None) -> Flask:
    """The API app with the commands (Flask's CLI finds this factory)."""
    return register_cli(api_app.create_app(config, profile))
