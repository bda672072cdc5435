"""Uploads never attached to a report are deleted after a day, and objects no upload names after a day too;
``flask uploads move-to-storage`` moves the bytes of older rows out of the database into the storage."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from jobs.registry import Job
from service import storage, uploads


def purge_unattached():
    """Delete uploads left unattached for 24 hours."""
    return {"deleted": uploads.purge_unattached()}


def purge_orphans():
    """Delete stored objects that no upload names, a day after they were written."""
    return uploads.purge_orphans()


JOBS = [Job("uploads.purge_unattached", purge_unattached, "cron", {"minute": 41},
            "Delete uploads never attached to anything (hourly)"),
        Job("uploads.purge_orphans", purge_orphans, "cron", {"hour": 3, "minute": 47},
            "Delete stored files that no upload names, left by failed or interrupted writes (daily)")]


uploads_cli = AppGroup("uploads", help="Uploaded files: move them out of the database into the storage.")


@uploads_cli.command("move-to-storage")
@click.option("--batch-size", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="Rows per transaction: each batch commits on its own.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Stop after this many rows (default: all).")
def move_to_storage_command(batch_size: int, limit: int | None):
    """Move the bytes of uploads still kept in the database into the configured storage (STORAGE_URL).

    Each file is read back from the storage and checked against its SHA-256 before the database copy is
    cleared. Interrupted, it loses at most one batch; run it again and it goes on where it stopped."""
    click.echo(f"moving uploads into {storage.current().describe()}")

    def progress(report: uploads.MoveReport) -> None:
        click.echo(f"  batch {report.batches}: {report.moved} moved, {report.bytes} bytes so far")

    report = uploads.move_to_storage(batch=batch_size, limit=limit, progress=progress)
    click.echo(f"moved {report.moved} uploads ({report.bytes} bytes) in {report.seconds:.2f} s; "
               f"{report.remaining} still in the database")
    if report.raced:
        click.echo(f"{report.raced} were moved or deleted meanwhile by someone else")
    if report.mismatched:
        click.echo(f"{len(report.mismatched)} do not match their checksum and stay in the database: "
                   f"{', '.join(map(str, report.mismatched))}", err=True)
    if report.failed:
        click.echo(f"{len(report.failed)} could not be written or read back intact and stay in the database: "
                   f"{', '.join(map(str, report.failed))}", err=True)
    if report.mismatched or report.failed:
        raise SystemExit(1)
