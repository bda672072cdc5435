"""Voting sweeps: open motions on time (freezing the electorate), close and count them on time, link the
ballots cast since the last run into the hash chains, and send notices and reminders. Each is idempotent; the intervals only decide how soon things happen."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from jobs.registry import Job
from service.voting import reminders, workflow


def open_due():
    return workflow.open_due()


def close_due():
    return workflow.close_due()


def send_reminders():
    return reminders.sweep()


def link_ballots():
    return workflow.link_pending_ballots()


JOBS = [
    Job("voting.open_due", open_due, "interval", {"minutes": 1}, "Open announced motions on time (freeze the electorate)"),
    Job("voting.close_due", close_due, "interval", {"minutes": 1},
        "Close motions on time, count them, extend once when participation is short"),
    Job("voting.link_ballots", link_ballots, "interval", {"minutes": 1},
        "Link the ballots cast since the last run into their motions' hash chains"),
    Job("voting.reminders", send_reminders, "interval", {"minutes": 10},
        "Voting notices, opening, reminders to owners who have not voted, count and publication"),
]

voting_cli = AppGroup("voting", help="Owners' voting.")


@voting_cli.command("verify")
@click.argument("motion_id", type=int)
def verify_command(motion_id: int):
    """Verify a motion's hash-chained ballot log end to end (exit 1 when broken)."""
    from service.voting import chain

    report = chain.verify(motion_id)
    click.echo(f"motion {motion_id}: {'valid' if report['valid'] else 'BROKEN'}; {report['events']} events; "
               f"head {report['head']}; {report['pending']} ballots awaiting the next linking batch")
    for problem in report["problems"]:
        click.echo(f"  {problem}")
    raise SystemExit(0 if report["valid"] else 1)
