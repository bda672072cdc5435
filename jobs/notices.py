"""Notice sweeps (service/notices/reminders.py): publish scheduled notices, expire and unpin, and tell staff who
has not acknowledged an urgent notice or tomorrow's outage. Each is idempotent."""
from __future__ import annotations

from jobs.registry import Job
from service.notices import reminders

JOBS = [
    Job("notices.publish_due", reminders.publish_due, "interval", {"minutes": 1},
        "Publish scheduled notices on time (freeze their audience)"),
    Job("notices.expire", reminders.expire, "interval", {"minutes": 5},
        "Expire and unpin notices past their valid_until"),
    Job("notices.chase_urgent", reminders.chase_urgent, "interval", {"minutes": 5},
        "Two hours after an urgent notice (08:00–20:00): tell staff how many have not acknowledged it"),
    Job("notices.outage_eve", reminders.outage_eve, "interval", {"minutes": 5},
        "At 18:00 the day before an outage: tell staff how many have not acknowledged it"),
]
