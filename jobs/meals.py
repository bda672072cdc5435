"""Meal sweeps (service/meals/reminders.py). Idempotent: dedupe keys and conditional UPDATEs."""
from __future__ import annotations

from jobs.registry import Job
from service.meals import reminders

JOBS = [
    Job("meals.eve_reminders", reminders.eve_reminders, "cron", {"hour": "18-20", "minute": "0,30"},
        "Remind diners (and their proxies) of tomorrow's meal"),
    Job("meals.morning_reminders", reminders.morning_reminders, "cron", {"hour": "7-10", "minute": "0,30"},
        "Remind diners of today's meal before it starts"),
    Job("meals.cutoff_manifests", reminders.cutoff_manifests, "interval", {"minutes": 5},
        "Send each slot's kitchen manifest to the site's operators at the cut-off"),
    Job("meals.promote_waitlists", reminders.promote_waitlists, "interval", {"minutes": 10},
        "Promote waitlisted diners into seats that became free (reserve released)"),
    Job("meals.mark_no_shows", reminders.mark_no_shows, "interval", {"minutes": 15},
        "Mark no-shows after the meal; welfare check for elders living alone; follow-up after repeated no-shows"),
    Job("meals.stopped_booking", reminders.stopped_booking, "cron", {"day_of_week": "mon", "hour": 9, "minute": 0},
        "Weekly: tell 居委会 staff about elders who booked regularly and suddenly stopped"),
]
