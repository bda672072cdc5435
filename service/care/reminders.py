"""The care sweeps the scheduler runs (declared in jobs/care.py). Each reads what is due, then hands each item or
batch to a transaction of its own; what was done is recorded, so a sweep run twice does nothing twice."""
from __future__ import annotations

from service import clock
from service.care import devices
from service.db import reading

# --- devices: no activity, silence, retention of raw events -----------------------------------------------------

MAX_PURGE_BATCHES = 200


def no_activity() -> dict:
    """Every 15 minutes: open a no-activity alarm for each elder at home whose devices have been quiet for a rule's
    hours (two sensors agreeing where the elder has both); each alarm in a transaction of its own."""
    now = clock.now()
    with reading():
        due = devices.quiet_elders(now)
    opened = sum(devices.raise_no_activity(elder_id, rule, now) is not None for elder_id, rule in due)
    return {"due": len(due), "opened": opened}


def device_silence() -> dict:
    """Hourly: a live device silent for ``silence_hours`` gets a maintenance mark and its 居委会 staff a message,
    once until it speaks again (batches of devices, each in a transaction)."""
    now = clock.now()
    with reading():
        silent = devices.silent_devices(now)
    marked = sum(devices.mark_silent(silent[i:i + devices.SILENCE_BATCH], now)
                 for i in range(0, len(silent), devices.SILENCE_BATCH))
    return {"silent": len(silent), "marked": marked}


def purge_events() -> dict:
    """Daily: raw device events older than ``retention.event_days`` are deleted, in batches."""
    now = clock.now()
    deleted = 0
    for _ in range(MAX_PURGE_BATCHES):
        with reading():
            batch = devices.old_events(now)
        if not batch:
            break
        deleted += devices.delete_events(batch)
    return {"deleted": deleted}
