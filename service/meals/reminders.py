"""Meal sweeps (declared in jobs/meals.py). Each reads only due rows through a partial index and is
idempotent: every notice has a dedupe key, and state changes are conditional UPDATEs.

- eve_reminders — from ``reminders.eve_at`` the day before: confirmed bookings of tomorrow
  (ix_meal_booking_confirmed) → the diner and whoever booked for them;
- morning_reminders — from ``reminders.morning_at`` on the day, before the meal → the same;
- cutoff_manifests — slots past their cut-off whose manifest has not gone out (ix_meal_slot_manifest_due)
  → the site's operators, with the counts; the slot is stamped so it goes out once;
- promote_waitlists — slots before their cut-off with waitlisted diners and free seats (the priority
  reserve released, a race) → promoted in priority order, notified;
- mark_no_shows — confirmed bookings whose meal ended ``no_show.mark_after_minutes`` ago → no_show
  (and waitlist entries whose meal has begun end as cancelled, "候补未成功");
  an elder living alone → a welfare-check task for their 居委会; the N-th no-show in the window → a
  follow-up notice (no automatic ban);
- stopped_booking — weekly: elders who booked regularly in the previous weeks and not at all in the
  last week → their 居委会 staff, as a wellbeing check.

Each sweep is one transaction, or one per slot or batch where it would hold the write lock too long
(manifests and promotions per slot, no-shows per batch of ``BATCH``).
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.meals import MealBooking, MealCard, MealSite, MealSlot
from models.people import ResidentProfile
from service import clock, labels, notifications, privacy
from service.db import transactional
from service.meals import queries, workflow
from service.meals import rules as meal_rules

BATCH = 500
CATCH_UP = timedelta(days=1)


def _day_bounds(day) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=clock.SHANGHAI)
    return start, start + timedelta(days=1)


def _remind(kind: str, window_start: datetime, window_end: datetime, title: str) -> int:
    sent = 0
    rows = db.session.execute(
        sa.select(MealBooking, MealSite.name).join(MealSite, MealSite.id == MealBooking.site_id)
        .where(MealBooking.status == "confirmed", MealBooking.ends_at >= window_start,
               MealBooking.ends_at < window_end, MealBooking.starts_at > clock.now())
        .order_by(MealBooking.ends_at, MealBooking.id).limit(5000)).all()
    for booking, site_name in rows:
        when = booking.starts_at.astimezone(clock.SHANGHAI)
        for user_id in {booking.diner_user_id, booking.booked_by_user_id}:
            sent += notifications.notify(
                user_id, kind="meals.reminder", dedupe_key=f"meals.{kind}.{booking.id}.{user_id}", title=title,
                body=f"{site_name} {when:%m月%d日 %H:%M}，{booking.quantity}份，取餐码 {booking.code}",
                link=f"/api/v1/meal-bookings/{booking.id}", data={"code": booking.code})
    return sent


@transactional
def eve_reminders() -> int:
    r = meal_rules.current()
    local = clock.local_now()
    if local.time() < r.eve_at:
        return 0
    start, end = _day_bounds(local.date() + timedelta(days=1))
    return _remind("eve", start, end, "明天的助餐提醒")


@transactional
def morning_reminders() -> int:
    r = meal_rules.current()
    local = clock.local_now()
    if local.time() < r.morning_at:
        return 0
    start, end = _day_bounds(local.date())
    return _remind("morning", start, end, "今天的助餐提醒")


def cutoff_manifests() -> int:
    """Each due slot's manifest in a transaction of its own."""
    now = clock.now()
    slot_ids = db.session.execute(sa.select(MealSlot.id).where(
        MealSlot.manifest_sent_at.is_(None), MealSlot.cutoff_at <= now, MealSlot.cutoff_at >= now - CATCH_UP)
        .order_by(MealSlot.cutoff_at, MealSlot.id).limit(BATCH)).scalars().all()
    return sum(_send_manifest(slot_id, now) for slot_id in slot_ids)


@transactional
def _send_manifest(slot_id: int, now: datetime) -> int:
    """Stamp the slot's manifest as sent, once, and tell the site's operators the counts."""
    slot = db.session.get(MealSlot, slot_id)
    site = db.session.get(MealSite, slot.site_id)
    totals = {m: getattr(slot, f"booked_{m}") for m in ("dine_in", "pickup", "delivery")}
    stamped = db.session.execute(sa.update(MealSlot).where(MealSlot.id == slot.id, MealSlot.manifest_sent_at.is_(None))
                                 .values(manifest_sent_at=now).execution_options(synchronize_session=False))
    if stamped.rowcount != 1:
        return 0
    sent = 0
    for user_id in queries.operators_of(site.id):
        sent += notifications.notify(
            user_id, kind="meals.manifest", dedupe_key=f"meals.manifest.{slot.id}.{user_id}",
            title=f"{slot.day:%m月%d日}{labels.name('meals', 'meal', slot.meal)}备餐单",
            body=f"{site.name}：堂食{totals['dine_in']}份，自取{totals['pickup']}份，送餐{totals['delivery']}份",
            link=f"/api/v1/meal-sites/{site.id}/manifest?day={slot.day.isoformat()}", data=totals)
    return sent


def promote_waitlists() -> int:
    """Each slot's waitlist in a transaction of its own (``workflow.promote_waitlist``)."""
    now = clock.now()
    slot_ids = db.session.execute(sa.select(MealBooking.slot_id).where(
        MealBooking.status == "waitlisted", MealBooking.starts_at > now).distinct().limit(BATCH)).scalars().all()
    return sum(workflow.promote_waitlist(slot_id) for slot_id in slot_ids)


def mark_no_shows() -> dict:
    """Waitlist entries whose meal has begun end; then no-shows are marked ``BATCH`` at a time, each batch a
    transaction of its own."""
    r = meal_rules.current()
    now = clock.now()
    counts = {"no_show": 0, "welfare_checks": 0, "followups": 0}
    counts["waitlist_expired"] = _expire_waitlist(now)
    while _mark_no_show_batch(r, now, counts):
        pass
    return counts


@transactional
def _expire_waitlist(now: datetime) -> int:
    """Waitlist entries whose meal has begun were never promoted: they end (no seat was held for them)."""
    return db.session.execute(
        sa.update(MealBooking).where(MealBooking.status == "waitlisted", MealBooking.starts_at <= now)
        .values(status="cancelled", cancelled_at=now, cancel_reason="候补未成功")
        .execution_options(synchronize_session=False)).rowcount or 0


@transactional
def _mark_no_show_batch(r: meal_rules.Rules, now: datetime, counts: dict) -> int:
    """Up to ``BATCH`` confirmed bookings whose meal ended ``mark_after_minutes`` ago → no_show, with what
    follows each (added to ``counts``). Returns how many were due (0: none left)."""
    due = now - timedelta(minutes=r.mark_after_minutes)
    rows = db.session.execute(sa.select(MealBooking.id).where(
        MealBooking.status == "confirmed", MealBooking.ends_at <= due)
        .order_by(MealBooking.ends_at, MealBooking.id).limit(BATCH)).scalars().all()
    for booking_id in rows:
        changed = db.session.execute(sa.update(MealBooking).where(MealBooking.id == booking_id,
                                                                  MealBooking.status == "confirmed")
                                     .values(status="no_show", no_show_at=now)
                                     .execution_options(synchronize_session=False)).rowcount
        if changed != 1:
            continue
        counts["no_show"] += 1
        _after_no_show(db.session.get(MealBooking, booking_id), r, counts)
    return len(rows)


def _after_no_show(booking: MealBooking, r: meal_rules.Rules, counts: dict) -> None:
    profile = db.session.get(ResidentProfile, booking.diner_user_id)
    card = db.session.get(MealCard, booking.diner_user_id)
    name = privacy.mask_name(profile.name) if profile else "居民"
    staff = queries.staff_of_neighbourhood(booking.neighbourhood_id or (profile.neighbourhood_id if profile else None))
    site = db.session.get(MealSite, booking.site_id)
    if r.welfare_check_lives_alone and card is not None and card.lives_alone:
        for user_id in staff:
            counts["welfare_checks"] += notifications.notify(
                user_id, kind="meals.welfare_check", dedupe_key=f"meals.welfare.{booking.id}.{user_id}",
                title="独居老人未到餐：请电话或上门确认安全",
                body=f"{name} 今天在{site.name}预订的餐未取，请尽快联系确认。",
                link=f"/api/v1/residents/{booking.diner_user_id}", data={"diner_id": booking.diner_user_id})
    since = booking.day - timedelta(days=r.followup_window_days - 1)
    recent = db.session.execute(sa.select(sa.func.count()).where(
        MealBooking.diner_user_id == booking.diner_user_id, MealBooking.status == "no_show",
        MealBooking.day >= since, MealBooking.day <= booking.day)).scalar_one()
    if recent >= r.followup_count:
        for user_id in staff:
            counts["followups"] += notifications.notify(
                user_id, kind="meals.no_show_followup",
                dedupe_key=f"meals.noshow_followup.{booking.diner_user_id}.{booking.day.isoformat()}.{user_id}",
                title="助餐多次未到：请居委会回访",
                body=f"{name} 近{r.followup_window_days}天内{recent}次订餐未到。",
                link=f"/api/v1/residents/{booking.diner_user_id}", data={"diner_id": booking.diner_user_id})


@transactional
def stopped_booking() -> int:
    """Elders with at least ``stopped_min_bookings`` meals in the lookback weeks before last week and
    none booked from a week ago onwards → their 居委会 staff (once per ISO week)."""
    today = clock.local_now().date()
    rows = queries.stopped_diners(today)
    year, week, _ = today.isocalendar()
    sent = 0
    for diner_id, neighbourhood_id in rows:
        profile = db.session.get(ResidentProfile, diner_id)
        name = privacy.mask_name(profile.name) if profile else "居民"
        for user_id in queries.staff_of_neighbourhood(neighbourhood_id):
            sent += notifications.notify(
                user_id, kind="meals.stopped_booking", dedupe_key=f"meals.stopped.{diner_id}.{year}W{week}.{user_id}",
                title="长者近一周未订餐：建议关怀探访",
                body=f"{name} 此前经常在助餐点用餐，最近一周没有订餐。", link=f"/api/v1/residents/{diner_id}",
                data={"diner_id": diner_id})
    return sent
