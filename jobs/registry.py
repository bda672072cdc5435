"""Every domain declares its sweeps as ``JOBS`` in ``jobs/<domain>.py``; the runner collects them."""
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
