"""The platform's own sweeps."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from jobs.registry import Job
from service import account_closure, data_export, key_rotation, privacy, retention, system


def purge_expired():
    """Delete expired token revocations and idempotency records."""
    return system.purge_expired()


def retention_sweep():
    """Keep personal data no longer than config/rules/privacy.yaml says: archive or delete, per kind."""
    return retention.sweep()


def export_sweep():
    """Build the copies of personal data waiting, and delete expired ones."""
    return data_export.sweep()


def closure_sweep():
    """Close the accounts whose cooling-off week is over: erase or anonymise their data, one person at a time."""
    return account_closure.sweep()


JOBS = [Job("system.purge_expired", purge_expired, "cron", {"minute": 17},
            "Purge expired revoked tokens and idempotency records (hourly)"),
        Job("system.retention", retention_sweep, "cron", {"hour": 3, "minute": 40},
            "Archive or delete personal data past its retention period (config/rules/privacy.yaml), daily"),
        Job("system.data_exports", export_sweep, "interval", {"minutes": 1},
            "Build the copies of personal data people asked for; delete expired ones (every minute)"),
        Job("system.account_closures", closure_sweep, "cron", {"minute": 25},
            "Close the accounts whose cooling-off week is over (hourly)")]


privacy_cli = AppGroup("privacy", help="Personal data: re-encrypt it with the current key.")


@privacy_cli.command("rotate-key")
@click.option("--batch-size", type=click.IntRange(1, 10000), default=500, show_default=True,
              help="Values per transaction: each batch commits on its own.")
def rotate_key_command(batch_size: int):
    """Re-encrypt every personal-data value with the current key (PII_KEY, version PII_KEY_VERSION).

    Keep the old keys in PII_OLD_KEYS until this reports nothing left: until then old and new values both
    read. Interrupted, it loses at most one batch; run it again and it goes on with what is left."""
    click.echo(f"re-encrypting with key version {privacy.current_version()}")
    report = key_rotation.rotate(batch=batch_size,
                                 progress=lambda name, done: click.echo(f"  {name}: {done} re-encrypted"))
    for name, done in report.rewritten.items():
        click.echo(f"{name}: {done} re-encrypted")
    unreadable = {name: keys for name, keys in report.unreadable.items() if keys}
    for name, keys in unreadable.items():
        click.echo(f"{name}: {len(keys)} no configured key reads, left as they are: "
                   f"{', '.join(map(str, keys[:20]))}", err=True)
    click.echo(f"{report.remaining} values are not yet written with version {report.version}"
               + (" (the old keys may now be removed)" if report.remaining == 0 else ""))
    if unreadable:
        raise SystemExit(1)
