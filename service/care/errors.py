"""The care domain's error catalogue: every ``care.*`` code once, with its Chinese and English message."""
from __future__ import annotations

from service.errors import Conflict, Forbidden, InvalidInput, NotFound


class ElderNotFound(NotFound):
    code, zh, en = "care.elder_not_found", "关爱对象不存在", "No such elder on the roster"


class NotInScope(Forbidden):
    code, zh, en = ("care.not_in_scope", "该老人不在您的工作范围内", "This elder is not in your care or scope")


class AlreadyOnRoster(Conflict):
    code, zh, en = "care.already_on_roster", "该老人已在关爱名单中", "This elder is already on the roster"
