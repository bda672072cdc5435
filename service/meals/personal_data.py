"""What the meals domain holds about a person (service/personal_data.py): their meal card with its verified
statuses, and the bookings they are the diner of or made for someone. Closing the account cancels the meals
still to come (their seats go to the waitlist), deletes the card, and keeps the meals already eaten or missed
in the subsidy statements under the pseudonymous account, without address or diet note."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from models.base import db
from models.meals import MealBooking, MealCard, MealSite, MealSlot
from models.people import ResidentProfile
from service import clock, retention
from service.db import transactional
from service.meals import workflow
from service.personal_data import MAX_ROWS, rows

KEPT = [
    ("已就餐或未到的助餐记录：补贴结算和审计需要（价格、补贴、日期、助餐点），用餐人以不可识别的编号代替，删除地址和饮食备注",
     "Meals served or missed: subsidy settlement and audits need them (price, subsidy, day, site); the diner is "
     "an unidentifiable number, the address and diet note are removed"),
]

CLOSED = "账号注销"
_VERIFIER = sa.orm.aliased(ResidentProfile)


def export(user_id: int) -> dict:
    # The statuses, and who verified them (by name: 居委会 staff serve residents by name).
    card = rows(sa.select(MealCard.card_no, MealCard.low_income, MealCard.lives_alone, MealCard.disabled,
                          MealCard.limited_mobility, MealCard.civility, MealCard.diet_note, MealCard.verified_by,
                          _VERIFIER.name.label("verified_by_name"), MealCard.verified_at)
                .outerjoin(_VERIFIER, _VERIFIER.user_id == MealCard.verified_by).where(MealCard.user_id == user_id))
    bookings = rows(sa.select(MealBooking.id, MealBooking.code, MealSite.name.label("site_name"), MealBooking.day,
                              MealBooking.mode, MealBooking.quantity, MealBooking.status, MealBooking.diner_user_id,
                              MealBooking.booked_by_user_id, MealBooking.booked_by_role, MealBooking.tier,
                              MealBooking.statuses, MealBooking.list_price, MealBooking.subsidy,
                              MealBooking.delivery_fee, MealBooking.payable, MealBooking.address,
                              MealBooking.diet_note, MealBooking.created_at, MealBooking.served_at,
                              MealBooking.cancelled_at, MealBooking.cancel_reason)
                    .join(MealSite, MealSite.id == MealBooking.site_id)
                    .where(sa.or_(MealBooking.diner_user_id == user_id, MealBooking.booked_by_user_id == user_id))
                    .order_by(MealBooking.id.desc()).limit(MAX_ROWS))
    return {"meal_card": card[0] if card else None, "meal_bookings": bookings}


def erase(user_id: int, now: datetime) -> dict:
    coming = db.session.execute(sa.select(MealBooking, MealSlot).join(MealSlot, MealSlot.id == MealBooking.slot_id)
                                .where(MealBooking.diner_user_id == user_id, MealBooking.starts_at > now,
                                       MealBooking.status.in_(("confirmed", "waitlisted")))).all()
    cancelled = sum(workflow.withdraw(booking, slot, booking.status, now=now, by=user_id, reason=CLOSED)
                    for booking, slot in coming)
    kept = db.session.execute(sa.update(MealBooking).where(MealBooking.diner_user_id == user_id)
                              .values(address=None, diet_note=None)
                              .execution_options(synchronize_session=False)).rowcount or 0
    card = db.session.execute(sa.delete(MealCard).where(MealCard.user_id == user_id)).rowcount or 0
    return {"meal_booking.cancelled": cancelled, "meal_booking.pseudonymised": kept, "meal_card.deleted": card}


# --- retention (config/rules/privacy.yaml, kind meal_booking_details) ---------------------------------------------

def forget_details(cutoff: datetime, now: datetime, batch: int, batches: int) -> int:
    """Bookings of meals before ``cutoff``'s day lose the delivery address and the diet note (the price,
    subsidy and diner stay for the statements): ``batch`` a transaction (ix_meal_booking_details)."""
    before = clock.local(cutoff).date()
    return retention.batched(lambda size: _forget_batch(before, size), batch, batches)


@transactional
def _forget_batch(before: date, batch: int) -> int:
    ids = db.session.execute(sa.select(MealBooking.id).where(
        MealBooking.day < before, sa.or_(MealBooking.address.is_not(None), MealBooking.diet_note.is_not(None)))
        .order_by(MealBooking.day, MealBooking.id).limit(batch)).scalars().all()
    if ids:
        db.session.execute(sa.update(MealBooking).where(MealBooking.id.in_(ids)).values(address=None, diet_note=None)
                           .execution_options(synchronize_session=False))
    return len(ids)


RETENTION = {"meal_booking_details": (("anonymise",), forget_details)}
