"""Meal use-cases, each one transaction: publishing a slot, booking with the waitlist, cancellation with
promotion, serving at the counter, meal cards. Each returns what it wrote.

Seats are taken and given back by the database (service.meals.seats). One live booking per diner per slot
is a partial unique index. A cancellation hands its seats straight to the waitlist (priority first, then
first come) in the same transaction, so a new booking racing with it can never take a seat a waitlisted
diner was owed and never oversells."""
from __future__ import annotations

import secrets
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from models.base import db
from models.meals import LIVE_SQL, MealBooking, MealCard, MealSite, MealSlot, SetMeal
from models.people import ResidentProfile
from service import audit, clock, consent, notifications
from service.db import is_unique_violation, transactional
from service.errors import NothingToChange
from service.platform_errors import SensitiveConsentMissing
from service.meals import access, errors, pricing, sites
from service.meals import rules as meal_rules
from service.meals.pricing import NO_PRIORITY, Diner
from service.meals.seats import release_seats, seats_left, take_seats
from service.people import Actor

# Booking codes for the counter: no 0/O, 1/I/L, 2/Z, 5/S, 6/G, 8/B.
CODE_ALPHABET = "ACDEFHJKMNPQRTUVWXY3479"
CODE_LENGTH = 6


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")


# --- publishing a meal ----------------------------------------------------------------------------------------

@transactional
def publish_slot(actor: Actor, site_id: int, *, day: date, meal: str, capacity: dict,
                 set_meals: list[dict]) -> MealSlot:
    """Operators publish a day's meal: capacities per mode and the menu (at least one set meal)."""
    site = sites.get_site(site_id)
    access.require_operate(actor, site)
    if not site.bookable:
        raise errors.SiteTakesNoSlots()
    if str(day.isoweekday()) not in site.service_days:
        raise errors.NotAServiceDay()
    if day < clock.local_now().date():
        raise errors.DayInPast()
    slot = sites.add_slot(site, day=day, meal=meal, capacity=capacity, set_meals=set_meals)
    audit.record(actor, "meal_slot.published", "meal_slot", slot.id,
                 after={"site_id": site.id, "day": day.isoformat(), "meal": meal, "capacity": capacity})
    return slot


# --- booking ----------------------------------------------------------------------------------------------------

@transactional
def book(actor: Actor, *, slot_id: int, diner_id: int | None, mode: str, set_meal_id: int, quantity: int = 1,
         join_waitlist: bool = False, diet_note: str | None = None) -> MealBooking:
    """Book a meal for the diner (the actor when not given): the checks in the order their refusals are told,
    then the booking with its frozen price and counter code, and its seats, or a waitlist place when the slot
    is full and ``join_waitlist`` (else 409 ``meals.slot_full``)."""
    now = clock.now()
    slot, site, set_meal = sites.get_slot_to_book(slot_id, set_meal_id)
    _check_bookable(site)
    diner_id = diner_id or actor.user_id
    booked_as = access.require_book_for(actor, diner_id)
    r = sites.site_rules(site)
    _check_window(slot, now)
    if set_meal is None:   # none of that id, or another slot's
        raise errors.SetMealUnknown()
    _check_order(slot, r, mode=mode, quantity=quantity)
    d = pricing.diner(diner_id, slot.day)
    for_self = diner_id == actor.user_id
    eligible = _check_eligible(site, d, r, for_self=for_self)
    if mode == "delivery":
        _check_delivery(site, d, r, eligible=eligible, for_self=for_self)
    rank = pricing.priority_rank(d, r) if eligible else NO_PRIORITY
    if not join_waitlist:
        _refuse_when_full(slot, mode, quantity, priority=rank < NO_PRIORITY, now=now, for_self=for_self,
                          diner_id=diner_id)
    price = pricing.quote(site, set_meal, d, mode=mode, quantity=quantity, r=r)
    booking = _new_booking(slot, set_meal, d, price, booked_by=actor.user_id, booked_as=booked_as, mode=mode,
                           quantity=quantity, rank=rank, diet_note=diet_note, now=now)
    _insert(booking)
    _seat(booking, slot, join_waitlist=join_waitlist, now=now)
    if booked_as == "staff":
        audit.record(actor, "meal_booking.created", "meal_booking", booking.id, subject_user_id=diner_id,
                     after={"diner_id": diner_id, "slot_id": slot.id, "status": booking.status})
    db.session.flush()
    return booking


def _check_bookable(site: MealSite) -> None:
    if not (site.active and site.bookable):
        raise errors.SiteNotBookable()


def _check_window(slot: MealSlot, now: datetime) -> None:
    if now < slot.opens_at:
        raise errors.WindowNotOpen(errors={"opens_at": [clock.iso(slot.opens_at)]})
    if now >= slot.cutoff_at:
        raise errors.CutoffPassed()


def _check_order(slot: MealSlot, r: meal_rules.Rules, *, mode: str, quantity: int) -> None:
    """The portions within the rules' limit, in a mode the slot offers."""
    if quantity > r.max_quantity:
        raise errors.QuantityTooLarge(limit=r.max_quantity)
    if getattr(slot, f"cap_{mode}") <= 0:
        raise errors.ModeNotOffered()


def _check_eligible(site: MealSite, d: Diner, r: meal_rules.Rules, *, for_self: bool) -> bool:
    """Whether the diner gets the elder price; a site closed to the public refuses everyone else."""
    eligible, reason = pricing.eligibility(site, d, r)
    if not eligible and not site.open_to_public:
        raise errors.NotEligible(*pricing.ineligible_message(reason, False, for_self=for_self))
    return eligible


def _check_delivery(site: MealSite, d: Diner, r: meal_rules.Rules, *, eligible: bool, for_self: bool) -> None:
    """Delivery: for eligible diners the rules allow it to, at a known address within the site's radius."""
    if not (eligible and pricing.delivery_allowed(d, r)):
        raise errors.DeliveryNotAllowed()
    distance = sites.distance_m(site, d.lat, d.lng)
    if distance is None:
        raise errors.AddressUnknown() if for_self else errors.DinerAddressUnknown()
    if distance > site.delivery_radius_m:
        raise errors.OutsideDeliveryRadius()


def _refuse_when_full(slot: MealSlot, mode: str, quantity: int, *, priority: bool, now: datetime, for_self: bool,
                      diner_id: int) -> None:
    """Already full when read (a freed seat goes to the waitlist first): refused without writing, which is
    most attempts when a popular meal opens. A slot read with room goes on to take_seats."""
    if seats_left(slot, mode, priority=priority, now=now) >= quantity:
        return
    if has_live_booking(slot.id, diner_id):
        raise _already_booked(for_self=for_self)
    raise errors.SlotFull()


def _already_booked(*, for_self: bool) -> errors.AlreadyBooked:
    """The diner holds a live booking of the meal already: told to the diner, or to who books for them."""
    return errors.AlreadyBooked() if for_self else errors.DinerAlreadyBooked()


_LIVE_BOOKING = sa.select(sa.literal(1)).select_from(MealBooking).where(
    MealBooking.slot_id == sa.bindparam("slot_id"), MealBooking.diner_user_id == sa.bindparam("diner_id"),
    sa.text(f"meal_booking.{LIVE_SQL}"))  # literal, so a prepared plan can use the partial unique index


def has_live_booking(slot_id: int, diner_id: int) -> bool:
    return db.session.execute(_LIVE_BOOKING, {"slot_id": slot_id, "diner_id": diner_id}).first() is not None


def _new_booking(slot: MealSlot, set_meal: SetMeal, d: Diner, price: dict, *, booked_by: int, booked_as: str,
                 mode: str, quantity: int, rank: int, diet_note: str | None, now: datetime) -> MealBooking:
    """The booking as it is kept: its frozen price, and the diner's residence (the statements' paying district;
    the delivery list's address) and diet as they were when booked."""
    return MealBooking(
        token=secrets.token_urlsafe(18), slot_id=slot.id, site_id=slot.site_id, set_meal_id=set_meal.id,
        diner_user_id=d.user_id, booked_by_user_id=booked_by, booked_by_role=booked_as,
        mode=mode, quantity=quantity, status="confirmed", day=slot.day, starts_at=slot.starts_at,
        ends_at=slot.ends_at, priority_rank=rank, eligible=price["eligible"], age=d.age, tier=price["tier"],
        statuses=",".join(s["code"] for s in price["statuses"]), operator_tier=price["operator_tier"],
        list_price=price["list_price"], subsidy=price["subsidy"], delivery_fee=price["delivery_fee"],
        payable=price["payable"], operator_subsidy=price["operator_subsidy"], breakdown=_jsonable(price),
        residence_district_id=d.district_id, neighbourhood_id=d.neighbourhood_id, unit_id=d.unit_id,
        address=d.address if mode == "delivery" else None,
        diet_note=diet_note or (d.card.diet_note if d.card else None), created_at=now)


def _jsonable(price: dict) -> dict:
    def conv(v):
        if isinstance(v, Decimal):
            return f"{v:.2f}"
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v
    return conv(price)


def _insert(booking: MealBooking) -> None:
    """Add the booking with a counter code not in use (drawn again when it is)."""
    for _ in range(5):
        booking.code = new_code()
        try:
            with db.session.begin_nested():
                db.session.add(booking)
                db.session.flush()
            return
        except sa.exc.IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            if "code" not in str(exc.orig).lower():
                raise _already_booked(for_self=booking.diner_user_id == booking.booked_by_user_id) from None
    raise errors.CodeExhausted()


def _seat(booking: MealBooking, slot: MealSlot, *, join_waitlist: bool, now: datetime) -> None:
    """Take the booking's seats, or put it on the waitlist when they are gone and the diner asked to wait."""
    priority = booking.priority_rank < NO_PRIORITY
    if take_seats(slot, booking.mode, booking.quantity, priority=priority, now=now):
        return
    if not join_waitlist:
        raise errors.SlotFull()
    booking.status = "waitlisted"


# --- cancelling, and the waitlist ------------------------------------------------------------------------------

@transactional
def cancel(actor: Actor, booking_id: int, *, reason: str | None = None) -> MealBooking:
    """Free until the cut-off for the diner and their proxies; after it only staff in scope, with a reason."""
    booking = db.session.get(MealBooking, booking_id)
    if booking is None or not access.may_cancel(actor, booking):
        raise errors.BookingNotFound()
    if booking.status not in ("confirmed", "waitlisted"):
        raise errors.NotCancellable()
    slot = db.session.get(MealSlot, booking.slot_id)
    now = clock.now()
    old = booking.status
    after_cutoff = old == "confirmed" and now >= slot.cutoff_at
    if after_cutoff:
        _check_late_cancel(actor, booking, reason)
    if not withdraw(booking, slot, old, now=now, by=actor.user_id, reason=reason):
        raise errors.BookingChanged()
    if after_cutoff or actor.user_id not in (booking.diner_user_id, booking.booked_by_user_id):
        audit.record(actor, "meal_booking.cancelled", "meal_booking", booking.id, before={"status": old},
                     after={"status": "cancelled", "reason": reason}, subject_user_id=booking.diner_user_id)
    db.session.expire(booking)
    return booking


def withdraw(booking: MealBooking, slot: MealSlot, old: str, *, now: datetime, by: int, reason: str | None) -> bool:
    """Cancel a booking still ``old`` (confirmed or waitlisted): a confirmed one's seats go to the waitlist or
    back to the slot. False when it changed meanwhile."""
    changed = db.session.execute(sa.update(MealBooking).where(MealBooking.id == booking.id,
                                                              MealBooking.status == old)
                                 .values(status="cancelled", cancelled_at=now, cancelled_by=by,
                                         cancel_reason=reason).execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        return False
    if old == "confirmed":
        release_seats(slot.id, booking.mode, hand_over(slot, booking.mode, booking.quantity, now))
    return True


def _check_late_cancel(actor: Actor, booking: MealBooking, reason: str | None) -> None:
    """A confirmed booking after the cut-off: only staff in scope where the rules allow it, with a reason."""
    if not access.may_cancel_after_cutoff(actor, db.session.get(MealSite, booking.site_id)):
        raise errors.CancelCutoffPassed()
    if not (reason and reason.strip()):
        raise errors.ReasonRequired()


def hand_over(slot: MealSlot, mode: str, freed: int, now: datetime) -> int:
    """Give ``freed`` seats to waitlisted bookings of the slot and mode, priority first then first
    come (a booking that needs more seats than are left is passed over). Returns the seats left."""
    if now >= slot.cutoff_at:
        return freed
    candidates = db.session.execute(
        sa.select(MealBooking.id, MealBooking.quantity).where(
            MealBooking.slot_id == slot.id, MealBooking.mode == mode, MealBooking.status == "waitlisted")
        .order_by(MealBooking.priority_rank, MealBooking.id).limit(50)).all()
    for booking_id, quantity in candidates:
        if freed <= 0:
            break
        if quantity > freed:
            continue
        if _promote(booking_id, now):
            freed -= quantity
    return freed


def _promote(booking_id: int, now: datetime) -> bool:
    done = db.session.execute(sa.update(MealBooking).where(MealBooking.id == booking_id,
                                                           MealBooking.status == "waitlisted")
                              .values(status="confirmed", promoted_at=now)
                              .execution_options(synchronize_session=False)).rowcount == 1
    if done:
        booking = db.session.get(MealBooking, booking_id)
        db.session.refresh(booking)
        _notify_promoted(booking)
    return done


def _notify_promoted(booking: MealBooking) -> None:
    site = db.session.get(MealSite, booking.site_id)
    meal = "午餐" if booking.starts_at.astimezone(clock.SHANGHAI).hour < 15 else "晚餐"
    for user_id in {booking.diner_user_id, booking.booked_by_user_id}:
        notifications.notify(user_id, kind="meals.promoted", dedupe_key=f"meals.promoted.{booking.id}.{user_id}",
                             title="候补成功：已为您预留餐位",
                             body=f"{site.name} {booking.day.isoformat()} {meal}，取餐码 {booking.code}",
                             link=f"/api/v1/meal-bookings/{booking.id}", data={"code": booking.code})


@transactional
def promote_waitlist(slot_id: int) -> int:
    """Seats that became free without a hand-over (reserve released, a race): fill them from the waitlist.
    Each promotion takes its seats with the same conditional UPDATE as a booking. Returns how many were
    promoted."""
    slot = db.session.get(MealSlot, slot_id)
    now = clock.now()
    if slot is None or now >= slot.cutoff_at:
        return 0
    promoted = 0
    rows = db.session.execute(
        sa.select(MealBooking.id, MealBooking.mode, MealBooking.quantity, MealBooking.priority_rank)
        .where(MealBooking.slot_id == slot_id, MealBooking.status == "waitlisted")
        .order_by(MealBooking.mode, MealBooking.priority_rank, MealBooking.id)).all()
    for booking_id, mode, quantity, rank in rows:
        if not take_seats(slot, mode, quantity, priority=rank < NO_PRIORITY, now=now):
            continue
        if _promote(booking_id, now):
            promoted += 1
        else:
            release_seats(slot_id, mode, quantity)
    return promoted


# --- at the counter ---------------------------------------------------------------------------------------------

@transactional
def serve(actor: Actor, *, booking_id: int | None = None, site_id: int | None = None, code: str | None = None,
          token: str | None = None) -> MealBooking:
    """Mark a booking served, once. Found by id, by the counter code or by the scanned token."""
    booking = _at_counter(actor, booking_id=booking_id, site_id=site_id, code=code, token=token)
    if booking.status == "served":
        raise errors.AlreadyServed(errors={"served_at": [clock.iso(booking.served_at)]})
    if booking.status != "confirmed":
        raise errors.NotServable(state=booking.status)
    if clock.local_now().date() != booking.day:
        raise errors.WrongDay()
    changed = db.session.execute(sa.update(MealBooking).where(MealBooking.id == booking.id,
                                                              MealBooking.status == "confirmed")
                                 .values(status="served", served_at=clock.now(), served_by=actor.user_id)
                                 .execution_options(synchronize_session=False)).rowcount
    db.session.expire(booking)
    if changed != 1:
        raise errors.AlreadyServed()
    return booking


def _at_counter(actor: Actor, *, booking_id: int | None, site_id: int | None, code: str | None,
                token: str | None) -> MealBooking:
    """The booking by its id, its scanned token or its code (one of them is given), of a site the actor
    operates (and of ``site_id`` when given)."""
    if booking_id is not None:
        booking = db.session.get(MealBooking, booking_id)
    elif token:
        booking = db.session.execute(sa.select(MealBooking).where(MealBooking.token == token.strip())).scalar()
    else:
        booking = db.session.execute(sa.select(MealBooking).where(
            MealBooking.code == normalise_code(code))).scalar()
    if booking is None or (site_id is not None and booking.site_id != site_id) \
            or not access.may_operate(actor, db.session.get(MealSite, booking.site_id)):
        raise errors.CodeNotFound()
    return booking


# --- meal cards -------------------------------------------------------------------------------------------------

def _card_no() -> str:
    return "C" + "".join(secrets.choice("0123456789") for _ in range(11))


CARD_FIELDS = (*meal_rules.STATUS_FLAGS, "diet_note")


@transactional
def set_card(actor: Actor, user_id: int, changes: dict) -> MealCard:
    """居委会 staff covering the resident's verified neighbourhood issue the 老年助餐卡 and record the statuses
    they verified (audited). A request naming nothing is refused; one that changes nothing leaves the card,
    its verification stamp and the audit log as they were. Recording a sensitive status (or a diet note) needs
    the resident's live consent to sensitive data (service.consent); clearing one never does."""
    if not changes:
        raise NothingToChange(CARD_FIELDS)
    if not access.may_manage_card(actor, db.session.get(ResidentProfile, user_id)):
        raise errors.ResidentNotInScope()
    if any(changes.get(f) for f in pricing.SENSITIVE_FIELDS) and not consent.has(user_id, consent.SENSITIVE):
        raise SensitiveConsentMissing()
    card = db.session.get(MealCard, user_id)
    before = None
    if card is None:
        card = MealCard(user_id=user_id, card_no=_card_no())
        db.session.add(card)
    else:
        before = {f: getattr(card, f) for f in CARD_FIELDS}
        if all(getattr(card, name) == value for name, value in changes.items()):
            return card
    for name, value in changes.items():
        setattr(card, name, value)
    card.verified_by = actor.user_id
    card.verified_at = clock.now()
    db.session.flush()
    audit.record(actor, "meal_card.updated", "user", user_id, before=before,
                 after={f: getattr(card, f) for f in CARD_FIELDS})
    return card
