"""Care sweeps (service/care/reminders.py). Each is idempotent."""
from __future__ import annotations

from jobs.registry import Job
from service.care import reminders

JOBS: list[Job] = [
    Job("care.consent_withdrawals", reminders.consent_withdrawals, "interval", {"minutes": 10},
        "Elders whose care consent was withdrawn: remove their devices, erase their health notes"),
    Job("care.consent_review", reminders.consent_review, "cron", {"day": 2, "hour": 9, "minute": 15},
        "In the review month (January): ask each 居委会 to review elders verified more than 11 months ago"),
    Job("care.plan_visits", reminders.plan_visits, "cron", {"day_of_week": "mon", "hour": 1, "minute": 0},
        "Write the visit plans' due visits up to the horizon; cancel those of elders gone or away"),
    Job("care.remind_visits", reminders.remind_visits, "cron", {"minute": 1},
        "Tell the paired visitor once when a due visit opens"),
    Job("care.escalate_visits", reminders.escalate_visits, "cron", {"hour": 8, "minute": 30},
        "Tell the 居委会 (nc_head first) of visits overdue by escalate_after_days, once per due visit"),
    Job("care.climb_alarms", reminders.climb_alarms, "interval", {"seconds": 30},
        "Alarms climb their ladder on time; a taken alarm not on site in time is taken back"),
    Job("care.collect_signals", reminders.collect_signals, "interval", {"minutes": 15},
        "Missed meals, stopped bookings and unacknowledged urgent notices of roster elders → concern alarms"),
    # Devices: no activity and silence (their raw events' retention: privacy.yaml, care_device_event).
    Job("care.no_activity", reminders.no_activity, "interval", {"minutes": 15},
        "Open a no-activity alarm for an elder at home whose devices have been quiet for a rule's hours"),
    Job("care.device_silence", reminders.device_silence, "interval", {"hours": 1},
        "Mark a device silent for silence_hours for maintenance and tell the neighbourhood's staff (not an alarm)"),
]
