"""The care sweeps the scheduler runs (declared in jobs/care.py). Each reads what is due, then hands each item or
batch to a transaction of its own; what was done is recorded, so a sweep run twice does nothing twice."""
from __future__ import annotations
