"""Funds sweeps (service/funds/reminders.py): owners' queries left unanswered go to the 居委会; the disclosure
calendar's reminders."""
from __future__ import annotations

from jobs.registry import Job
from service.funds import reminders

JOBS = [
    Job("funds.remind_queries", reminders.remind_queries, "interval", {"hours": 1},
        "Owners' queries on a statement unanswered after 10 days: the committee reminded once"),
    Job("funds.escalate_queries", reminders.escalate_queries, "interval", {"hours": 1},
        "Owners' queries on a statement unanswered after 15 days go to the 居委会"),
    Job("funds.disclosure_reminders", reminders.disclosure_reminders, "cron", {"hour": 9, "minute": 0},
        "The disclosure calendar: remind the committee 7 days before a statement is due, tell the 居委会 7 days "
        "after it is overdue"),
    Job("funds.duty_reminders", reminders.duty_reminders, "cron", {"hour": 9, "minute": 5},
        "The disclosure calendar's decisions, audits and members' commitments: remind the committee 7 days before "
        "each is due, tell the 居委会 7 days after it is overdue"),
]
