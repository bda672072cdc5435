"""Request and answer schemas of elder care: Device vendors, devices in elders' homes and their events."""
from __future__ import annotations
