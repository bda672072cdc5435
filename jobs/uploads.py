"""Uploads never attached to a report are deleted after a day."""
from __future__ import annotations

from jobs.registry import Job
from service import uploads


def purge_unattached():
    """Delete uploads left unattached for 24 hours."""
    return {"deleted": uploads.purge_unattached()}


JOBS = [Job("uploads.purge_unattached", purge_unattached, "cron", {"minute": 41},
            "Delete uploads never attached to anything (hourly)")]
