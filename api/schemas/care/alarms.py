"""Request and answer schemas of elder care: Alarms about elders and their ladder."""
from __future__ import annotations
