"""Cursors for keyset pages: the values of a page's last row, handed out with the page and read back with the
next request. A cursor is those values as JSON in base64 and a keyed tag over them (service.privacy.mac, one key
purpose a list): the server reads back only the cursors it issued for that list, so a crafted one is refused
before it can reach a statement."""
from __future__ import annotations

import base64
import hmac
import json
from datetime import datetime

from service import privacy

TAG_BYTES = 12
MAX_ID = 2**63 - 1


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _tag(purpose: str, payload: str) -> str:
    return _b64(privacy.mac(purpose, payload.encode())[:TAG_BYTES])


def issue(purpose: str, values: list) -> str:
    """The cursor of ``values`` (JSON-able) for the list named ``purpose``."""
    payload = _b64(json.dumps(values, separators=(",", ":")).encode())
    return f"{payload}.{_tag(purpose, payload)}"


def read(purpose: str, cursor: str, size: int) -> list | None:
    """The ``size`` values of a cursor issued for ``purpose``, or None for anything else."""
    payload, dot, tag = cursor.partition(".")
    if not dot or not hmac.compare_digest(tag.encode(), _tag(purpose, payload).encode()):
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    return values if isinstance(values, list) and len(values) == size else None


def issue_at(purpose: str, moment: datetime | None, row_id: int) -> str:
    """The cursor of a list ordered by a moment (or none) and a row id."""
    return issue(purpose, [moment.isoformat() if moment else None, row_id])


def read_at(purpose: str, cursor: str) -> tuple[datetime | None, int] | None:
    """(moment, row id) of a cursor ``issue_at`` issued for ``purpose``, or None. Issued cursors always have this
    shape; the checks keep a leaked signing key from becoming a 500."""
    values = read(purpose, cursor, 2)
    if values is None:
        return None
    moment, row_id = values
    if type(row_id) is not int or not 1 <= row_id <= MAX_ID:
        return None
    if moment is None:
        return None, row_id
    try:
        parsed = datetime.fromisoformat(moment) if isinstance(moment, str) else None
    except ValueError:
        return None
    return (parsed, row_id) if parsed is not None and parsed.tzinfo is not None else None
