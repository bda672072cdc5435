"""A scheduled sweep. Every domain declares its sweeps as ``JOBS`` in ``jobs/<name>.py``; the runner finds them
through the domain registry (service/registry.py), the platform's in its own jobs modules."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], object]
    # APScheduler trigger name and arguments, e.g. ("interval", {"minutes": 5}) or ("cron", {"hour": 8}).
    trigger: str
    trigger_args: dict = field(default_factory=dict)
    description: str = ""
