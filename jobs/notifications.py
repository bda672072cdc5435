"""Deliver queued WeChat subscribe messages."""
from __future__ import annotations

from flask import current_app

from jobs.registry import Job
from service import notifications


def deliver_pending():
    """Send pending subscribe messages; each send consumes one of the user's one-time consents."""
    return notifications.deliver_pending(current_app.extensions["wechat"])


JOBS = [Job("notifications.deliver", deliver_pending, "interval", {"seconds": 30},
            "Send pending WeChat subscribe messages")]
