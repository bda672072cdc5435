"""Care sweeps (service/care/reminders.py). Each is idempotent."""
from __future__ import annotations

from jobs.registry import Job
from service.care import reminders

JOBS: list[Job] = [
    Job("care.climb_alarms", reminders.climb_alarms, "interval", {"seconds": 30},
        "Alarms climb their ladder on time; a taken alarm not on site in time is taken back"),
    Job("care.collect_signals", reminders.collect_signals, "interval", {"minutes": 15},
        "Missed meals, stopped bookings and unacknowledged urgent notices of roster elders → concern alarms"),
]
