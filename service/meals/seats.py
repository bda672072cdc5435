"""A slot's seats per mode. Capacity is decided by the database: a seat is taken by ONE conditional UPDATE
(``booked + q <= limit``) whose row count says whether it worked, and the slot's CHECK constraints forbid a
counter above capacity. Until the reserve is released, a share of each mode's seats is held for the priority
groups (the rules' ``priority.reserve_percent``)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.meals import MealSlot


def _limit(slot: MealSlot, mode: str, priority: bool, now: datetime):
    cap = getattr(MealSlot, f"cap_{mode}")
    if priority or now >= slot.reserve_until:
        return cap
    return cap - getattr(MealSlot, f"reserve_{mode}")


def seats_left(slot, mode: str, *, priority: bool, now: datetime) -> int:
    """Seats of ``mode`` a diner could still take as the slot was read (the priority reserve is held back
    for others until it is released). Only ``take_seats`` decides; this answers listings and refuses
    early when the slot is already full."""
    cap = getattr(slot, f"cap_{mode}")
    held = 0 if (priority or now >= slot.reserve_until) else getattr(slot, f"reserve_{mode}")
    return max(0, cap - held - getattr(slot, f"booked_{mode}"))


def take_seats(slot: MealSlot, mode: str, quantity: int, *, priority: bool, now: datetime) -> bool:
    """Atomically take ``quantity`` seats of ``mode``; False when they are not there."""
    booked = getattr(MealSlot, f"booked_{mode}")
    result = db.session.execute(
        sa.update(MealSlot).where(MealSlot.id == slot.id, booked + quantity <= _limit(slot, mode, priority, now))
        .values({booked: booked + quantity}).execution_options(synchronize_session=False))
    return result.rowcount == 1


def release_seats(slot_id: int, mode: str, quantity: int) -> None:
    if quantity <= 0:
        return
    booked = getattr(MealSlot, f"booked_{mode}")
    db.session.execute(sa.update(MealSlot).where(MealSlot.id == slot_id).values({booked: booked - quantity})
                       .execution_options(synchronize_session=False))
