"""The platform's own sweeps."""
from __future__ import annotations

from jobs.registry import Job
from service import system


def purge_expired():
    """Delete expired token revocations and idempotency records."""
    return system.purge_expired()


JOBS = [Job("system.purge_expired", purge_expired, "cron", {"minute": 17},
            "Purge expired revoked tokens and idempotency records (hourly)")]
