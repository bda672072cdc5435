"""Case reminders: 先行联系 and 办理 due soon, 先行联系 missed, 催办/督办 of overdue cases, 回访,
the rating request to the reporter and the morning digest of overdue cases.

Every sweep is idempotent (notification dedupe keys), so the intervals only decide how soon a
reminder goes out. Triggers are in Asia/Shanghai (the scheduler's timezone). The overdue sweep and
the digest fire every day and check the working-day calendar themselves: a cron limited to Monday–
Friday would skip the weekend days that are 调休 make-up working days, and run on public holidays.
"""
from __future__ import annotations

from jobs.registry import Job
from service.cases import reminders

JOBS = [
    Job("cases.contact_due_soon", reminders.contact_due_soon, "interval", {"minutes": 10},
        "Remind handlers of 先行联系 deadlines due soon"),
    Job("cases.contact_missed", reminders.contact_missed, "interval", {"minutes": 10},
        "Tell handlers and the 居委会主任 of missed 先行联系 deadlines"),
    Job("cases.handling_due_soon", reminders.handling_due_soon, "interval", {"minutes": 10},
        "Remind handlers of handling deadlines due soon"),
    Job("cases.overdue", reminders.overdue, "interval", {"minutes": 15},
        "催办 overdue cases the next working day, 督办 after more working days (working days only)"),
    Job("cases.visit_due", reminders.visit_due, "interval", {"minutes": 30},
        "Remind handlers of 回访 due today"),
    # Residents are messaged in the daytime only.
    Job("cases.rating_request", reminders.rating_request, "cron", {"hour": "8-20", "minute": "5,35"},
        "Ask reporters to rate closed cases (inbox and WeChat subscribe message)"),
    Job("cases.overdue_digest", reminders.overdue_digest, "cron", {"hour": 8, "minute": 30},
        "Morning digest of overdue cases per neighbourhood (working days only)"),
]
