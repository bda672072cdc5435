"""Care sweeps (service/care/reminders.py). Each is idempotent."""
from __future__ import annotations

from jobs.registry import Job
from service.care import reminders

JOBS: list[Job] = [
    # Devices: no activity, silence, retention of raw events.
    Job("care.no_activity", reminders.no_activity, "interval", {"minutes": 15},
        "Open a no-activity alarm for an elder at home whose devices have been quiet for a rule's hours"),
    Job("care.device_silence", reminders.device_silence, "interval", {"hours": 1},
        "Mark a device silent for silence_hours for maintenance and tell the neighbourhood's staff (not an alarm)"),
    Job("care.purge_events", reminders.purge_events, "cron", {"hour": 3, "minute": 40},
        "Delete raw device events older than retention.event_days"),
]
