"""Voting sweeps (service/voting/reminders.py): open motions on time (freezing the electorate), close and count
them on time, link the ballots cast since the last run into the hash chains, and send notices and reminders.
Each is idempotent; the intervals only decide how soon things happen. ``CLI``: ``flask voting verify``."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from jobs.registry import Job
from service.voting import chain, reminders

JOBS = [
    Job("voting.open_due", reminders.open_due, "interval", {"minutes": 1},
        "Open announced motions on time (freeze the electorate)"),
    Job("voting.close_due", reminders.close_due, "interval", {"minutes": 1},
        "Close motions on time, count them, extend once when participation is short"),
    Job("voting.link_ballots", reminders.link_pending_ballots, "interval", {"minutes": 1},
        "Link the ballots cast since the last run into their motions' hash chains"),
    Job("voting.reminders", reminders.send_reminders, "interval", {"minutes": 10},
        "Voting notices, opening, reminders to owners who have not voted, count and publication"),
]

CLI = AppGroup("voting", help="Owners' voting.")


@CLI.command("verify")
@click.argument("motion_id", type=int)
def verify_command(motion_id: int):
    """Verify a motion's hash-chained ballot log end to end (exit 1 when broken)."""
    report = chain.verify(motion_id)
    click.echo(f"motion {motion_id}: {'valid' if report['valid'] else 'BROKEN'}; {report['events']} events; "
               f"head {report['head']}; {report['pending']} ballots awaiting the next linking batch")
    for problem in report["problems"]:
        click.echo(f"  {problem}")
    raise SystemExit(0 if report["valid"] else 1)
