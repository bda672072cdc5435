"""Meal sweeps (service/meals/reminders.py). Idempotent: dedupe keys and conditional UPDATEs."""
from __future__ import annotations

from jobs.registry import Job
from service.meals import reminders


def eve_reminders():
    return reminders.eve_reminders()


def morning_reminders():
    return reminders.morning_reminders()


def cutoff_manifests():
    return reminders.cutoff_manifests()


def promote_waitlists():
    return reminders.promote_waitlists()


def mark_no_shows():
    return reminders.mark_no_shows()


def stopped_booking():
    return reminders.stopped_booking()


JOBS = [
    Job("meals.eve_reminders", eve_reminders, "cron", {"hour": "18-20", "minute": "0,30"},
        "Remind diners (and their proxies) of tomorrow's meal"),
    Job("meals.morning_reminders", morning_reminders, "cron", {"hour": "7-10", "minute": "0,30"},
        "Remind diners of today's meal before it starts"),
    Job("meals.cutoff_manifests", cutoff_manifests, "interval", {"minutes": 5},
        "Send each slot's kitchen manifest to the site's operators at the cut-off"),
    Job("meals.promote_waitlists", promote_waitlists, "interval", {"minutes": 10},
        "Promote waitlisted diners into seats that became free (reserve released)"),
    Job("meals.mark_no_shows", mark_no_shows, "interval", {"minutes": 15},
        "Mark no-shows after the meal; welfare check for elders living alone; follow-up after repeated no-shows"),
    Job("meals.stopped_booking", stopped_booking, "cron", {"day_of_week": "mon", "hour": 9, "minute": 0},
        "Weekly: tell 居委会 staff about elders who booked regularly and suddenly stopped"),
]
