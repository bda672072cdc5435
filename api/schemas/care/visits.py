"""Request and answer schemas of elder care: Pairings, visit plans, due visits and visits to elders."""
from __future__ import annotations
