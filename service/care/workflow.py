"""Use-cases of the care domain that write: the roster and the 民生档案 (visits: service/care/visits.py; devices and
their events: service/care/devices.py; alarms: service/care/alarms.py)."""
from __future__ import annotations
