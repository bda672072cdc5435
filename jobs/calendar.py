"""The working-day calendar: the weekly reminder to district admins while a year's arrangement is
awaited, and ``flask calendar load`` / ``flask calendar show`` for operators."""
from __future__ import annotations

import json
from datetime import date

import click
from flask.cli import AppGroup

from jobs.registry import Job
from service import calendar
from service.errors import DomainError


def arrangement_reminder():
    return calendar.remind_admins()


# Daily, sending at most once per ISO week to each admin (the dedupe key carries the week), so a missed
# morning is caught up the next day. Nothing is sent before 1 November or once the year is loaded.
JOBS = [Job("calendar.arrangement_reminder", arrangement_reminder, "cron", {"hour": 9, "minute": 5},
            "From 1 November until next year's holiday arrangement is loaded: tell district admins (weekly)")]


calendar_cli = AppGroup("calendar", help="The working-day calendar: load a year's State Council arrangement.")


def parse(text: str) -> dict:
    """The PUT body as a file (JSON): dates as YYYY-MM-DD; anything else is left for validation to name."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise click.ClickException("the file must hold a JSON object with notice, published_on, holidays, workdays")
    unknown = set(data) - {"notice", "published_on", "holidays", "workdays"}
    if unknown:
        raise click.ClickException(f"unknown field(s): {', '.join(sorted(unknown))}")

    def as_date(value):
        try:
            return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else value
        except ValueError:
            return value

    result = dict(data)
    if "published_on" in data:
        result["published_on"] = as_date(data["published_on"])
    for field in ("holidays", "workdays"):
        if isinstance(data.get(field), list):
            result[field] = [as_date(v) for v in data[field]]
    return result


@calendar_cli.command("load")
@click.argument("year", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
def load_command(year: int, path: str, lang: str):
    """Load YEAR's arrangement from PATH (the JSON body of PUT /api/v1/calendar/YEAR)."""
    try:
        data = parse(open(path, encoding="utf-8").read())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path} is not JSON: {exc}") from None
    try:
        result = calendar.load_arrangement(calendar.CLI_ACTOR, year, data, lang=lang)
    except DomainError as error:
        click.echo(error.message(lang), err=True)
        for field, messages in error.errors.items():
            for message in messages:
                click.echo(f"  {field}: {message}", err=True)
        raise SystemExit(1) from None
    click.echo(f"{year}: {result['source']} {result['notice']}; {len(result['holidays'])} days off, "
               f"{len(result['workdays'])} make-up working days; moved: {result['changed']}")


@calendar_cli.command("show")
@click.argument("year", type=int)
def show_command(year: int):
    """Print YEAR's working-day calendar and its source."""
    try:
        view = calendar.year_view(year, "en")
    except DomainError as error:
        raise click.ClickException(error.message("en")) from None
    click.echo(f"{year}: source {view['source']}{' (provisional)' if view['provisional'] else ''}"
               f"{', notice ' + view['notice'] if view['notice'] else ''}; {view['working_days']} working days")
    click.echo("holidays: " + " ".join(d.isoformat() for d in view["holidays"]))
    click.echo("make-up working days: " + " ".join(d.isoformat() for d in view["workdays"]))
