"""Care sweeps (service/care/reminders.py). Each is idempotent."""
from __future__ import annotations

from jobs.registry import Job
from service.care import reminders

JOBS: list[Job] = [
    Job("care.consent_withdrawals", reminders.consent_withdrawals, "interval", {"minutes": 10},
        "Elders whose care consent was withdrawn: remove their devices, erase their health notes"),
    Job("care.consent_review", reminders.consent_review, "cron", {"day": 2, "hour": 9, "minute": 15},
        "In the review month (January): ask each 居委会 to review elders verified more than 11 months ago"),
]
