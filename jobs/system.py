"""The platform's own sweeps."""
from __future__ import annotations

from jobs.registry import Job
from service import retention, system


def purge_expired():
    """Delete expired token revocations and idempotency records."""
    return system.purge_expired()


def retention_sweep():
    """Keep personal data no longer than config/rules/privacy.yaml says: archive or delete, per kind."""
    return retention.sweep()


JOBS = [Job("system.purge_expired", purge_expired, "cron", {"minute": 17},
            "Purge expired revoked tokens and idempotency records (hourly)"),
        Job("system.retention", retention_sweep, "cron", {"hour": 3, "minute": 40},
            "Archive or delete personal data past its retention period (config/rules/privacy.yaml), daily")]
