"""Care sweeps (service/care/reminders.py). Each is idempotent."""
from __future__ import annotations

from jobs.registry import Job
from service.care import reminders  # noqa: F401  (the sweeps are added part by part)

JOBS: list[Job] = [
]
