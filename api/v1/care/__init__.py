"""Elders living alone (独居老人关爱): the roster and the 民生档案, visits, devices and their vendors' events, alarms.
Each part has its blueprint."""
from __future__ import annotations

from api.v1.care import alarms, devices, roster, visits

BLUEPRINTS = (roster.blp, visits.blp, *devices.BLUEPRINTS, alarms.blp)
