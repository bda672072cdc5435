"""Who may see a case and who may do what on it: the staff who handle it (and those of them who supervise
it), its reporter, anyone logged in for a public case; and who may issue and revoke Open311 partner keys."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from models.base import db
from models.cases import Case, CaseExtension, Open311Key
from service import clock
from service.cases import rules
from service.cases.errors import CaseNotFound, ReopenSatisfied, ReopenTooLate, ReporterOnly, SupervisorRequired
from service.cases.states import (RATEABLE, REPORTER_ACTIONS, SUPERVISOR_ACTIONS, TRANSITIONS, WITHDRAWABLE,
                                  contactable, extension_too_late)
from service.errors import Conflict
from service.people import Actor


# --- seeing and handling a case --------------------------------------------------------------------------------------

def may_handle(actor: Actor, case: Case) -> bool:
    """Staff whose scope holds the case: its neighbourhood, or its street for a street-level case."""
    if not actor.is_staff:
        return False
    if case.neighbourhood_id is not None:
        return case.neighbourhood_id in actor.neighbourhood_ids
    return case.street_id in actor.street_ids


def may_supervise(actor: Actor, case: Case) -> bool:
    """Handling staff who approve: the 居委会主任 (nc_head), the street's staff, admins."""
    if not may_handle(actor, case):
        return False
    if case.neighbourhood_id is not None:
        return case.neighbourhood_id in actor.supervised_neighbourhood_ids
    return case.street_id in actor.street_ids


def is_public(case: Case) -> bool:
    """A case of a public category that was neither rejected nor withdrawn."""
    category = rules.category(case.category_code)
    return bool(category and category.public) and case.status not in ("rejected", "withdrawn")


def may_see(actor: Actor, case: Case) -> bool:
    """Its reporter, staff who handle it, or anyone logged in for a public case."""
    return case.reporter_user_id == actor.user_id or may_handle(actor, case) or is_public(case)


def require_handle(actor: Actor, case: Case) -> None:
    """Staff who do not handle the case hear that it does not exist."""
    if not may_handle(actor, case):
        raise CaseNotFound()


def require_supervise(actor: Actor, case: Case) -> None:
    if not may_supervise(actor, case):
        raise SupervisorRequired()


# --- the reporter ----------------------------------------------------------------------------------------------------

def require_reporter(actor: Actor, case: Case, action: str) -> None:
    """Only the reporter may do ``action`` (a key of REPORTER_ACTIONS): someone else who may see the case (a
    follower, staff) is told so (403); anyone else hears that it does not exist."""
    if case.reporter_user_id == actor.user_id:
        return
    if not may_see(actor, case):
        raise CaseNotFound()
    zh, en = REPORTER_ACTIONS[action]
    raise ReporterOnly(action_zh=zh, action_en=en)


def _reopen_refusal(case: Case) -> Conflict | None:
    """Why the reporter may not reopen the closed case (too late, or rated satisfied), or None."""
    policy = rules.policy()
    if clock.now() > case.closed_at + timedelta(days=policy.reopen_within_days):
        return ReopenTooLate(days=policy.reopen_within_days)
    if case.rating is not None and case.rating in policy.satisfied_levels:
        return ReopenSatisfied()
    return None


def require_reopen(case: Case) -> None:
    """The reporter may still reopen the closed case: within the policy's window and not rated satisfied."""
    refusal = _reopen_refusal(case)
    if refusal is not None:
        raise refusal


def reporter_actions(case: Case) -> list[str]:
    """The reporter's actions open on the case now (the checks of workflow's ``withdraw``, ``rate`` and
    ``reopen_by_reporter``)."""
    names = []
    if case.status in WITHDRAWABLE:
        names.append("withdraw")
    if case.status in RATEABLE and case.rating is None:
        names.append("rate")
    if case.status == "closed" and _reopen_refusal(case) is None:
        names.append("reopen")
    return names


# --- what the caller may do now --------------------------------------------------------------------------------------

def allowed_actions(actor: Actor, case: Case, *, extension_pending: bool | None = None) -> list[str]:
    """What this caller may do on the case now: every name listed is accepted when sent with valid input
    (never a 403 or 409 for the caller's role or the case's state).

    Staff who handle the case get the staff actions of its state (``POST /cases/{id}/actions``), the
    supervisor's ones only when they supervise it, and only those the case allows now (an extension to
    decide only while one is pending, resolving only after the first contact when the reporter can be
    reached, …). The reporter gets ``withdraw``, ``rate`` and ``reopen`` when those are open to them
    (``POST /cases/{id}/withdraw``, ``/rating``, ``/reopen``). Anyone else gets none. ``extension_pending``:
    whether an extension awaits a decision, when the caller read it with the case (else it is read here).
    """
    actions = _staff_actions(actor, case, extension_pending) if may_handle(actor, case) else []
    if actor.user_id is not None and case.reporter_user_id == actor.user_id:
        actions.extend(name for name in reporter_actions(case) if name not in actions)
    return actions


def _staff_actions(actor: Actor, case: Case, known_pending: bool | None = None) -> list[str]:
    """The staff actions open on the case now, for staff who handle it."""
    supervisor = may_supervise(actor, case)
    # queried once, when an extension action is in question (unless the caller read it with the case)
    pending: list[bool] = [] if known_pending is None else [known_pending]

    def extension_pending() -> bool:
        if not pending:
            pending.append(db.session.execute(sa.select(CaseExtension.id).where(
                CaseExtension.case_id == case.id, CaseExtension.status == "pending")).first() is not None)
        return pending[0]

    actions = []
    for name, (states, _) in TRANSITIONS.items():
        if case.status not in states or (name in SUPERVISOR_ACTIONS and not supervisor):
            continue
        if _closed_now(name, case, extension_pending):
            continue
        actions.append(name)
    return actions


def _closed_now(name: str, case: Case, extension_pending) -> bool:
    """The action is allowed in the case's state, but the case refuses it now."""
    if name in ("approve_extension", "deny_extension"):
        return not extension_pending()
    if name == "request_extension":
        return extension_too_late(case, clock.now()) or extension_pending()
    if name == "mark_complex":
        return case.complex
    if name == "resolve":
        return case.first_contact_at is None and contactable(case)
    if name == "visit":
        return case.visit_result not in (None, "unreachable")
    return False


# --- Open311 partner keys --------------------------------------------------------------------------------------------

def _administers(actor: Actor, scope_type: str | None, scope_id: int | None) -> bool:
    districts, streets = actor.admin_reach()
    if scope_type == "district":
        return scope_id in districts
    if scope_type == "street":
        return scope_id in streets
    # A key issued before keys had a scope, by an admin of several places: district admins only.
    return bool(districts)


def may_issue_key(actor: Actor, scope_type: str, scope_id: int) -> bool:
    """An admin of the street or district the key is to lie in."""
    return _administers(actor, scope_type, scope_id)


def may_revoke_key(actor: Actor, key: Open311Key) -> bool:
    """Its issuer, or an admin whose scope holds it (a district's admins revoke the keys of its streets)."""
    return key.created_by == actor.user_id or _administers(actor, key.scope_type, key.scope_id)


def may_see_photo(actor: Actor, upload) -> bool:
    """Photos attached to a case (``attached_to = "case:<id>"``) are visible to whoever may see the case."""
    try:
        case_id = int(upload.attached_to.split(":", 1)[1])
    except (ValueError, IndexError):
        return False
    case = db.session.get(Case, case_id)
    return case is not None and may_see(actor, case)
