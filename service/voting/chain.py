"""The per-motion event chain: append-only, h_i = SHA-256(h_{i-1} ‖ canonical_json(event_i)).

Appends happen under the motion's row lock (the caller holds it), so the chain never forks; the unique
(motion_id, seq) constraint would refuse a fork anyway. Verification recomputes every link and checks
each ballot row against the digest its cast event recorded, so editing a stored ballot or event is found.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime

import sqlalchemy as sa

from models.base import db
from models.voting import Ballot, Motion, VoteEvent
from service import clock

GENESIS = "0" * 64


def canonical(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def link(prev: str, event: dict) -> str:
    return hashlib.sha256(prev.encode() + canonical(event)).hexdigest()


def _event_body(motion_id: int, seq: int, kind: str, at: datetime, actor_user_id, data: dict) -> dict:
    return {"motion_id": motion_id, "seq": seq, "kind": kind, "at": at.isoformat(), "actor": actor_user_id,
            "data": data}


def append(motion: Motion, kind: str, data: dict, actor_user_id: int | None = None) -> VoteEvent:
    """Append an event in the caller's transaction (the caller holds the motion's row lock)."""
    seq = motion.chain_length + 1
    at = clock.now().replace(microsecond=0)
    digest = link(motion.chain_head, _event_body(motion.id, seq, kind, at, actor_user_id, data))
    event = VoteEvent(motion_id=motion.id, seq=seq, kind=kind, at=at, actor_user_id=actor_user_id, data=data,
                      prev_hash=motion.chain_head, hash=digest)
    db.session.add(event)
    motion.chain_length = seq
    motion.chain_head = digest
    return event


def append_locked(motion_id: int, events: list[tuple[str, dict]], actor_user_id: int | None, check) -> None:
    """Append ``events`` to the motion's chain with plain Core statements (the ballot path, where the ORM's
    unit of work would cost more than the rest of the request): take the motion's row lock (FOR NO KEY
    UPDATE on PostgreSQL, as ``workflow._lock``; SQLite's BEGIN IMMEDIATE already serialises writers),
    let ``check(row)`` refuse on the state read under the lock, advance the head (and the row's version,
    as an ORM update would) and insert the events in one statement."""
    connection = db.session.connection()
    row = connection.execute(_HEAD_FOR_UPDATE, {"motion_id": motion_id}).one()
    check(row)
    head, seq = row.chain_head, row.chain_length
    at = clock.now().replace(microsecond=0)
    rows = []
    for kind, data in events:
        seq += 1
        digest = link(head, _event_body(motion_id, seq, kind, at, actor_user_id, data))
        rows.append({"motion_id": motion_id, "seq": seq, "kind": kind, "at": at, "actor_user_id": actor_user_id,
                     "data": data, "prev_hash": head, "hash": digest})
        head = digest
    connection.execute(_ADVANCE, {"motion_id": motion_id, "head": head, "length": seq})
    connection.execute(_INSERT_EVENT, rows[0] if len(rows) == 1 else rows)


# Built once: a statement built per request costs more in SQLAlchemy than its execution.
_M = Motion.__table__
_HEAD_FOR_UPDATE = (sa.select(_M.c.status, _M.c.closes_at, _M.c.chain_head, _M.c.chain_length)
                    .where(_M.c.id == sa.bindparam("motion_id")).with_for_update(key_share=True))
_ADVANCE = (sa.update(_M).where(_M.c.id == sa.bindparam("motion_id"))
            .values(chain_head=sa.bindparam("head"), chain_length=sa.bindparam("length"), version=_M.c.version + 1))
_INSERT_EVENT = sa.insert(VoteEvent.__table__)

def ballot_content(ballot: Ballot) -> dict:
    """What a ballot says, canonically: the receipt digest is SHA-256 of this ‖ nonce."""
    return {"motion": ballot.motion_id, "voter": ballot.voter_id, "channel": ballot.channel,
            "choice": ballot.choice, "candidates": sorted(ballot.candidate_ids or []) or None}


def ballot_digest(ballot: Ballot) -> str:
    return hashlib.sha256(canonical(ballot_content(ballot)) + bytes.fromhex(ballot.nonce)).hexdigest()


def verify(motion_id: int) -> dict:
    """Recompute the chain end to end and check every ballot row against its recorded digest."""
    motion = db.session.get(Motion, motion_id)
    prev, count = GENESIS, 0
    recorded: dict[int, str] = {}
    problems: list[dict] = []
    events = db.session.execute(sa.select(VoteEvent).where(VoteEvent.motion_id == motion_id)
                                .order_by(VoteEvent.seq)).scalars()
    for event in events:
        count += 1
        if event.seq != count:
            problems.append({"seq": event.seq, "problem": "gap or reordering in the sequence"})
            break
        expected = link(prev, _event_body(event.motion_id, event.seq, event.kind, event.at, event.actor_user_id,
                                          event.data))
        if event.prev_hash != prev or event.hash != expected:
            problems.append({"seq": event.seq, "problem": "event content or link does not match its hash"})
            break
        if event.kind in ("cast", "paper_entered", "proxy_cast") and isinstance(event.data, dict):
            recorded[event.data.get("ballot")] = event.data.get("digest")
        prev = event.hash
    if not problems and (motion is None or prev != motion.chain_head or count != motion.chain_length):
        problems.append({"seq": count, "problem": "the chain head does not match the motion's published head"})
    if not problems:
        for ballot in db.session.execute(sa.select(Ballot).where(Ballot.motion_id == motion_id)
                                         .order_by(Ballot.id)).scalars():
            digest = ballot_digest(ballot)
            if recorded.get(ballot.id) != digest or ballot.digest != digest or ballot.receipt != digest[:10]:
                problems.append({"ballot": ballot.id, "problem": "ballot does not match the digest recorded at casting"})
                break
    return {"motion_id": motion_id, "valid": not problems, "events": count, "head": prev, "problems": problems}
