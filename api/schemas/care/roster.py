"""Request and answer schemas of elder care: The roster of elders living alone and their 民生档案."""
from __future__ import annotations
