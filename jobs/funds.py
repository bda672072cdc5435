"""Funds sweep (service/funds/reminders.py): owners' queries left unanswered go to the 居委会."""
from __future__ import annotations

from jobs.registry import Job
from service.funds import reminders

JOBS = [
    Job("funds.escalate_queries", reminders.escalate_queries, "interval", {"hours": 1},
        "Owners' queries on a statement unanswered after 15 days go to the 居委会"),
]
