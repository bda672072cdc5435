"""Alarms about an elder and the ladder they climb until someone takes them (config/rules/care.yaml ``ladders``).

An alarm opens ``open`` with ``next_at`` its opening time; the steps due at once are taken in the opening
transaction (the first notification goes out with the event that raised it); the ladder sweep takes the later
ones (``reminders.climb_alarms``).

``alarm.step`` counts the rungs of its ladder taken so far: rung ``i`` (0-based) is due at ``opened_at +
after_minutes`` and is recorded as the step ``n = i + 1``. Whoever stands to the elder (staff in scope, a paired
visitor, a family member) may take it: the ladder pauses, and an alarm taken but neither on site nor resolved
within ``taken_timeout_minutes`` is taken back and climbs on. Resolving an alarm whose source is in
``close_needs_visit`` needs a visit to the elder made since it opened."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.care import LIVE_ALARM_STATES, Alarm, AlarmStep, Contact, Elder, Pairing, Visit
from models.people import FamilyLink, ResidentProfile
from service import audit, clock, labels, notifications, people, privacy
from service.care import access, errors, rules
from service.db import locked, transactional
from service.people import Actor

KIND = "care.alarm"
# How each rung reaches people (config/labels/care.yaml ``step_channel``).
CHANNEL = {"elder": "phone", "family": "app", "duty": "phone", "visitor": "door", "street_desk": "work_order"}


def live_alarm(elder_id: int, rule: str) -> Alarm | None:
    return db.session.execute(sa.select(Alarm).where(Alarm.elder_id == elder_id, Alarm.rule == rule,
                                                     Alarm.state.in_(LIVE_ALARM_STATES))).scalar_one_or_none()


def open_alarm(elder: Elder, *, source: str, rule: str, severity: str, now: datetime, event_id: int | None = None,
               reference: str | None = None) -> Alarm | None:
    """Open an alarm (undecorated: called inside the caller's transaction), or None when the elder already has
    a live one for this rule (the new signal joins it)."""
    if live_alarm(elder.id, rule) is not None:
        return None
    alarm = Alarm(elder_id=elder.id, street_id=elder.street_id, source=source, rule=rule, severity=severity,
                  state="open", step=0, next_at=now, opened_at=now, event_id=event_id, reference=reference)
    db.session.add(alarm)
    db.session.flush()
    climb(alarm, now)
    return alarm


# --- the ladder ------------------------------------------------------------------------------------------------

def due_at(alarm: Alarm, index: int) -> datetime:
    """When rung ``index`` (0-based) of the alarm's ladder is due."""
    return alarm.opened_at + timedelta(minutes=rules.current().ladders[alarm.severity][index].after_minutes)


def climb(alarm: Alarm, now: datetime) -> int:
    """Take every rung of the alarm's ladder due by ``now`` beyond those taken (each an AlarmStep and its
    notifications); the number taken. A taken, on-site or resolved alarm does not climb."""
    if alarm.state not in ("open", "notifying"):
        return 0
    ladder = rules.current().ladders[alarm.severity]
    reach = _Reach(alarm)
    taken = 0
    while alarm.step < len(ladder) and due_at(alarm, alarm.step) <= now:
        _take_rung(alarm, reach, ladder[alarm.step].target, due_at(alarm, alarm.step), now)
        taken += 1
    if alarm.step:
        alarm.state = "notifying"
    alarm.next_at = due_at(alarm, alarm.step) if alarm.step < len(ladder) else None
    return taken


def take_back(alarm: Alarm, now: datetime) -> int:
    """A taken alarm neither on site nor resolved in time: back to notifying, climbing on from its next rung
    (at the top of its ladder, the top rung is taken again). The number of steps taken."""
    taker, taken_at = alarm.taken_by, alarm.taken_at
    alarm.state, alarm.taken_by, alarm.taken_at = "notifying", None, None
    audit.record(None, "care.alarm_taken_back", "care_alarm", alarm.id,
                 before={"taken_by": taker, "taken_at": clock.iso(taken_at)}, street_id=alarm.street_id)
    notifications.notify(taker, kind=KIND, title="您认领的报警已超时收回", body=f"{_what(alarm)}：认领后未到场或处理，已重新通知其他人。",
                         dedupe_key=f"care.alarm.{alarm.id}.back.{int(taken_at.timestamp())}.{taker}",
                         link=f"/care/alarms/{alarm.id}", data={"alarm_id": alarm.id, "step": alarm.step})
    taken = climb(alarm, now)
    if taken == 0 and alarm.next_at is None:
        _take_rung(alarm, _Reach(alarm), rules.current().ladders[alarm.severity][-1].target, now, now)
        taken = 1
    return taken


@dataclass
class _Reach:
    """Who an alarm's rungs reach, read as a rung first needs them (once per climb)."""
    alarm: Alarm
    _elder: Elder | None = None
    _profile: ResidentProfile | None = None
    _found: dict = field(default_factory=dict)

    @property
    def elder(self) -> Elder:
        if self._elder is None:
            self._elder = db.session.get(Elder, self.alarm.elder_id)
        return self._elder

    @property
    def profile(self) -> ResidentProfile | None:
        if self._profile is None:
            self._profile = db.session.get(ResidentProfile, self.elder.user_id)
        return self._profile

    def name(self) -> str:
        return (self.profile.name if self.profile else None) or "独居老人"

    def phone(self) -> str | None:
        return privacy.decrypt(self.profile.phone_enc) if self.profile else None

    def _once(self, key: str, read):
        if key not in self._found:
            self._found[key] = read()
        return self._found[key]

    def duty(self) -> list[int]:
        """Staff of the elder's 居委会."""
        return self._once("duty", lambda: people.role_holders("staff", "neighbourhood", [self.elder.neighbourhood_id]))

    def street_desk(self) -> list[int]:
        return self._once("street", lambda: people.role_holders("staff", "street", [self.elder.street_id]))

    def family(self) -> list[int]:
        """Confirmed relatives and the emergency contacts who are Linli users."""
        def read():
            relatives = db.session.execute(sa.select(FamilyLink.proxy_user_id).where(
                FamilyLink.elder_user_id == self.elder.user_id, FamilyLink.status == "confirmed")).scalars()
            contacts = db.session.execute(sa.select(Contact.user_id).where(
                Contact.elder_id == self.elder.id, Contact.user_id.is_not(None))).scalars()
            return sorted({*relatives, *contacts} - {self.elder.user_id})
        return self._once("family", read)

    def contacts(self) -> list[Contact]:
        return self._once("contacts", lambda: db.session.execute(sa.select(Contact).where(
            Contact.elder_id == self.elder.id).order_by(Contact.position, Contact.id)).scalars().all())

    def visitors(self) -> list[int]:
        return self._once("visitors", lambda: sorted(set(db.session.execute(sa.select(Pairing.visitor_user_id).where(
            Pairing.elder_id == self.elder.id, Pairing.ends_on.is_(None))).scalars())))


def _what(alarm: Alarm) -> str:
    """The alarm in words: its rule's label (config/labels/care.yaml ``rule``), else its device's or source's."""
    named = labels.name("care", "rule", alarm.rule)
    if named and named != alarm.rule:
        return named
    if alarm.source == "device":
        return (labels.name("care", "kind", alarm.rule) or alarm.rule) + "报警"
    return labels.name("care", "source", alarm.source) or alarm.source


def _messages(alarm: Alarm, reach: _Reach, target: str) -> list[tuple[list[int], str, str]]:
    """(recipients, title, body) of a rung. Staff covering the elder see the name and phone in full (they call);
    everyone else reads the name masked."""
    severity = labels.name("care", "severity", alarm.severity)
    what, masked = _what(alarm), privacy.mask_name(reach.name())
    phone = reach.phone() or "未登记"
    if target == "elder":
        return [(reach.duty(), f"【{severity}】请立即电话联系独居老人",
                 f"{reach.name()}（{phone}）：{what}。请马上致电确认安全，联系不上请告知家属并安排上门。"),
                ([reach.elder.user_id], "邻里关爱提醒", f"您家中出现{what}，工作人员将给您打电话，请留意接听。")]
    if target == "family":
        out = [(reach.family(), f"【{severity}】家人可能需要帮助",
                f"{masked}：{what}。请尽快联系老人，并在邻里App中认领此报警。")]
        contacts = reach.contacts()
        if contacts:
            listed = "；".join(f"{c.name}（{c.relation}）{privacy.decrypt(c.phone_enc)}" for c in contacts)
            out.append((reach.duty(), f"【{severity}】请联系老人的紧急联系人", f"{reach.name()}：{what}。紧急联系人：{listed}"))
        return out
    if target == "duty":
        return [(reach.duty(), f"【{severity}】独居老人报警尚无人认领",
                 f"{reach.name()}（{phone}）：{what}。请立即处理并认领。")]
    if target == "visitor":
        return [(reach.visitors(), f"【{severity}】请上门看看结对老人",
                 f"{masked}：{what}。请尽快上门查看，到场后在邻里App中标记到场。")]
    return [(reach.street_desk(), f"【{severity}】独居老人报警需街道派单",
             f"{reach.name()}（{phone}）：{what}，居委会尚未处置。请派单上门。")]


def _take_rung(alarm: Alarm, reach: _Reach, target: str, due: datetime, now: datetime) -> AlarmStep:
    n = alarm.step + 1
    reached: set[int] = set()
    for users, title, body in _messages(alarm, reach, target):
        for user_id in users:
            notifications.notify(user_id, kind=KIND, dedupe_key=f"care.alarm.{alarm.id}.{n}.{user_id}", title=title,
                                 body=body, link=f"/care/alarms/{alarm.id}",
                                 data={"alarm_id": alarm.id, "step": n, "target": target})
            reached.add(user_id)
    step = AlarmStep(alarm_id=alarm.id, n=n, target=target, channel=CHANNEL[target], due_at=due, at=now,
                     recipients=len(reached), result="sent" if reached else "skipped")
    db.session.add(step)
    alarm.step = n
    return step


def climb_one(alarm_id: int) -> int:
    """The ladder sweep's step for one alarm (in the sweep's transaction): the row locked, its ``next_at``
    checked again (another runner may have taken it), then the due rungs taken, or a taken alarm taken back."""
    alarm = locked(Alarm, alarm_id)
    now = clock.now()
    if alarm is None or alarm.next_at is None or alarm.next_at > now or alarm.state not in (
            "open", "notifying", "taken"):
        return 0
    if alarm.state == "taken":
        return take_back(alarm, now)
    return climb(alarm, now)


# --- taking and closing ------------------------------------------------------------------------------------------

def get_alarm(alarm_id: int) -> Alarm:
    alarm = db.session.get(Alarm, alarm_id)
    if alarm is None:
        raise errors.AlarmNotFound()
    return alarm


def standing(actor: Actor, alarm: Alarm, elder: Elder | None = None) -> str:
    """How the actor stands to the alarm's elder; an alarm of an elder they do not stand to does not exist for a
    resident (404) and is out of scope for staff (403)."""
    found = access.standing(actor, elder or db.session.get(Elder, alarm.elder_id))
    if found is None:
        raise errors.NotInScope() if actor.is_staff else errors.AlarmNotFound()
    return found


def allowed_actions(actor: Actor, alarm: Alarm, found: str) -> list[str]:
    """What the actor may do with the alarm now."""
    mine = alarm.taken_by == actor.user_id
    staff = found == access.STAFF
    return [action for action, may in (
        ("take", alarm.state in ("open", "notifying") and found in (access.STAFF, access.VISITOR, access.FAMILY)),
        ("on_site", alarm.state == "taken" and (mine or staff)),
        ("resolve", alarm.state in LIVE_ALARM_STATES and (mine or staff)),
    ) if may]


def _require(actor: Actor, alarm: Alarm, action: str) -> Elder:
    elder = db.session.get(Elder, alarm.elder_id)
    found = standing(actor, alarm, elder)
    if action in allowed_actions(actor, alarm, found):
        return elder
    if alarm.state == "resolved":
        raise errors.AlarmResolved()
    if action == "take":
        if found == access.SELF:
            raise errors.AlarmNotYours()
        raise errors.AlarmAlreadyTaken()
    if action == "on_site" and alarm.state != "taken":
        raise errors.AlarmNotTaken()
    raise errors.AlarmNotYours()


def _fresh(alarm_id: int) -> Alarm:
    alarm = db.session.execute(sa.select(Alarm).where(Alarm.id == alarm_id)
                               .execution_options(populate_existing=True)).scalar_one_or_none()
    if alarm is None:
        raise errors.AlarmNotFound()
    return alarm


def _change(alarm: Alarm, states: tuple[str, ...], lost: type, **values) -> None:
    """One conditional UPDATE from one of ``states``: of two callers at once, one changes the alarm, the other
    gets ``lost``."""
    done = db.session.execute(sa.update(Alarm).where(Alarm.id == alarm.id, Alarm.state.in_(states), *(
        [Alarm.taken_by == values.pop("_taker")] if "_taker" in values else []))
        .values(**values).execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise lost()
    db.session.refresh(alarm)


@transactional
def take(actor: Actor, alarm_id: int) -> Alarm:
    """The caller takes the alarm: its ladder pauses; if neither on site nor resolved within
    ``taken_timeout_minutes`` it is taken back and climbs on."""
    alarm = _fresh(alarm_id)
    elder = _require(actor, alarm, "take")
    now = clock.now()
    _change(alarm, ("open", "notifying"), errors.AlarmAlreadyTaken, state="taken", taken_by=actor.user_id,
            taken_at=now, next_at=now + timedelta(minutes=rules.current().taken_timeout_minutes))
    audit.record(actor, "care.alarm_taken", "care_alarm", alarm.id, after={"step": alarm.step},
                 street_id=alarm.street_id, subject_user_id=elder.user_id)
    return alarm


@transactional
def on_site(actor: Actor, alarm_id: int) -> Alarm:
    """The taker (or staff in scope) is at the elder's door: the take-back timer stops."""
    alarm = _fresh(alarm_id)
    elder = _require(actor, alarm, "on_site")
    taker = {} if access.is_staff_over(actor, elder) else {"_taker": actor.user_id}
    _change(alarm, ("taken",), errors.AlarmNotTaken, state="on_site", on_site_at=clock.now(), next_at=None, **taker)
    audit.record(actor, "care.alarm_on_site", "care_alarm", alarm.id, street_id=alarm.street_id,
                 subject_user_id=elder.user_id)
    return alarm


def _visit_for(alarm: Alarm, visit_id: int | None) -> Visit | None:
    """The visit that closes the alarm: to its elder, at or after it opened. Required for the sources of
    ``close_needs_visit``."""
    if visit_id is None:
        if alarm.source in rules.current().close_needs_visit:
            raise errors.AlarmNeedsVisit()
        return None
    visit = db.session.get(Visit, visit_id)
    if visit is None or visit.elder_id != alarm.elder_id or visit.at < alarm.opened_at:
        raise errors.VisitNotForAlarm()
    return visit


@transactional
def resolve(actor: Actor, alarm_id: int, *, outcome: str, note: str | None = None,
            visit_id: int | None = None) -> Alarm:
    """Close the alarm with its outcome (staff in scope, or whoever took it)."""
    alarm = _fresh(alarm_id)
    elder = _require(actor, alarm, "resolve")
    visit = _visit_for(alarm, visit_id)
    now = clock.now()
    before = {"state": alarm.state, "step": alarm.step}
    taker = {} if access.is_staff_over(actor, elder) else {"_taker": actor.user_id}
    _change(alarm, LIVE_ALARM_STATES, errors.AlarmResolved, state="resolved", resolved_at=now,
            resolved_by=actor.user_id, outcome=outcome, note=note, next_at=None, **taker)
    if visit is not None and visit.alarm_id is None:
        visit.alarm_id = alarm.id
    _tell_family_resolved(alarm, actor.user_id)
    audit.record(actor, "care.alarm_resolved", "care_alarm", alarm.id, before=before,
                 after={"outcome": outcome, "visit_id": visit_id}, street_id=alarm.street_id,
                 subject_user_id=elder.user_id)
    return alarm


def _tell_family_resolved(alarm: Alarm, resolver: int) -> None:
    """The elder's family (but whoever resolved it) learn how the alarm ended."""
    reach = _Reach(alarm)
    outcome = labels.name("care", "alarm_outcome", alarm.outcome)
    for user_id in reach.family():
        if user_id != resolver:
            notifications.notify(user_id, kind=KIND, dedupe_key=f"care.alarm.{alarm.id}.resolved.{user_id}",
                                 title="家人的报警已处理", body=f"{privacy.mask_name(reach.name())}：{_what(alarm)}，"
                                                              f"处理结果：{outcome}。",
                                 link=f"/care/alarms/{alarm.id}", data={"alarm_id": alarm.id})
