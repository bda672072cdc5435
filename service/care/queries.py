"""Reads of the care domain: the roster, the file, visits, devices and alarms, and the answers built from them."""
from __future__ import annotations

from models.base import db
from models.care import Elder
from service.care import errors


def get_elder(elder_id: int) -> Elder:
    elder = db.session.get(Elder, elder_id)
    if elder is None:
        raise errors.ElderNotFound()
    return elder
