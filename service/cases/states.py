"""The case's state machine: the staff's actions and the states each is allowed in, the reporter's actions,
and what a case's state and clocks allow now.

受理 → 派单 → 签收 → 先行联系 → 办理 → 回复 → 办结 → 回访 → 评价, with 退单, 改派, 延期,
督办, 并单 and 重办.
"""
from __future__ import annotations

from datetime import datetime

from models.cases import OPEN_STATUSES, Case

# action → (states it is allowed in, state it leads to or None to stay)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "accept": (frozenset({"dispatched"}), "accepted"),
    "contact": (frozenset({"accepted", "in_progress", "reopened"}), None),
    "start": (frozenset({"accepted", "reopened"}), "in_progress"),
    "resolve": (frozenset({"in_progress"}), "resolved"),
    "return": (frozenset({"dispatched", "accepted"}), "returned"),
    "reassign": (frozenset({"dispatched", "accepted", "returned"}), "dispatched"),
    "request_extension": (frozenset({"accepted", "in_progress", "reopened"}), None),
    "approve_extension": (frozenset({"accepted", "in_progress", "reopened"}), None),
    "deny_extension": (frozenset({"accepted", "in_progress", "reopened"}), None),
    "mark_complex": (frozenset({"dispatched", "accepted", "in_progress"}), None),
    "escalate": (frozenset(OPEN_STATUSES), None),
    "merge": (frozenset({"submitted", "dispatched", "accepted", "returned"}), "merged"),
    "reject": (frozenset({"submitted", "dispatched", "returned"}), "rejected"),
    "close": (frozenset({"resolved"}), "closed"),
    "reopen": (frozenset({"resolved", "closed"}), None),  # resolved → in_progress; closed → reopened
    "visit": (frozenset({"closed"}), None),
    "comment": (frozenset(OPEN_STATUSES) | {"closed"}, None),
}
STAFF_ACTIONS = tuple(TRANSITIONS)
SUPERVISOR_ACTIONS = frozenset({"reassign", "approve_extension", "deny_extension", "mark_complex"})
# Events the reporter and followers see in the timeline.
PUBLIC_ACTIONS = frozenset({"submit", "dispatch", "accept", "resolve", "close", "reopen", "merge", "reject",
                            "withdraw", "rate", "visit"})
CONTACT_METHODS = ("phone", "visit", "wechat", "sms", "other")
VISIT_RESULTS = ("solved", "unsolved", "unreachable")
OUTCOMES = ("solved", "explained")  # 实际解决, 解释说明

# What only the reporter may do, as the refusal names it: action → (zh, en).
REPORTER_ACTIONS = {"withdraw": ("撤回", "withdraw"), "rate": ("评价", "rate"), "reopen": ("申请重办", "reopen")}
WITHDRAWABLE = frozenset({"submitted", "dispatched"})  # before a handler accepts it
RATEABLE = frozenset({"closed", "archived"})


def contactable(case: Case) -> bool:
    """The reporter can be contacted (先行联系): a reporting user who consented."""
    return case.reporter_user_id is not None and case.contact_consent


def current_handle_due(case: Case) -> datetime | None:
    """The handling deadline an extension moves: 再次处置 once reopened, else 首次处置."""
    if case.status == "reopened" or (case.cycle > 1 and case.rework_due_at):
        return case.rework_due_at
    return case.handle_due_at


def extension_too_late(case: Case, now: datetime) -> bool:
    due = current_handle_due(case)
    return due is not None and now > due
