"""The per-motion event chain: append-only, h_i = SHA-256(h_{i-1} ‖ canonical_json(event_i)).

Appends happen under the motion's row lock (the caller holds it), so the chain never forks; the unique
(motion_id, seq) constraint would refuse a fork anyway. Verification recomputes every link and checks
each ballot row against the digest its cast event recorded, so editing a stored ballot or event is found.

An owner's or a proxy's ballot is stored without touching the motion's row (so ballots of one motion
are cast side by side) and marked ``chain_pending``; ``link_pending`` appends the cast events of the
pending ballots in one batch, oldest first. Every other append links the pending ballots first, and so
do the linking sweep (every minute) and the close, so a ballot is in the chain within a minute and
always before the count. Verification reports the ballots still pending, checks each against its own
digest, and counts one pending for longer than ``PENDING_GRACE`` as a problem.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

import sqlalchemy as sa

from models.base import db
from models.voting import Ballot, Motion, VoteEvent
from service import clock

GENESIS = "0" * 64
# A ballot still unlinked this long after casting means the linking sweep is not running.
PENDING_GRACE = timedelta(minutes=10)


def canonical(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


def link(prev: str, event: dict) -> str:
    return hashlib.sha256(prev.encode() + canonical(event)).hexdigest()


def _event_body(motion_id: int, seq: int, kind: str, at: datetime, actor_user_id, data: dict) -> dict:
    return {"motion_id": motion_id, "seq": seq, "kind": kind, "at": at.isoformat(), "actor": actor_user_id,
            "data": data}


def append(motion: Motion, kind: str, data: dict, actor_user_id: int | None = None) -> VoteEvent:
    """Append an event in the caller's transaction (the caller holds the motion's row lock), after the
    cast events of the ballots still pending."""
    link_pending(motion)
    seq = motion.chain_length + 1
    at = clock.now().replace(microsecond=0)
    digest = link(motion.chain_head, _event_body(motion.id, seq, kind, at, actor_user_id, data))
    event = VoteEvent(motion_id=motion.id, seq=seq, kind=kind, at=at, actor_user_id=actor_user_id, data=data,
                      prev_hash=motion.chain_head, hash=digest)
    db.session.add(event)
    motion.chain_length = seq
    motion.chain_head = digest
    return event


def cast_events(ballot) -> list[tuple[str, dict]]:
    """The events a ballot of the owner or proxy channel adds to the chain: the replaced ballot's
    supersession (when it replaces one), then the cast."""
    events = []
    if ballot.replaces_id is not None:
        events.append(("supersede", {"ballot": ballot.replaces_id, "voter": ballot.voter_id}))
    events.append(("proxy_cast" if ballot.channel == "proxy" else "cast",
                   {"ballot": ballot.id, "voter": ballot.voter_id, "channel": ballot.channel,
                    "digest": ballot.digest, "replaces": ballot.replaces_id}))
    return events


def link_pending(motion: Motion) -> int:
    """Append the cast events of the motion's pending ballots, oldest first, each stamped with its
    ballot's casting time and caster (the caller holds the motion's row lock). Returns how many."""
    pending = db.session.execute(_PENDING, {"motion_id": motion.id}).all()
    if not pending:
        return 0
    head, seq = motion.chain_head, motion.chain_length
    rows = []
    for ballot in pending:
        at = ballot.cast_at.replace(microsecond=0)
        for kind, data in cast_events(ballot):
            seq += 1
            digest = link(head, _event_body(motion.id, seq, kind, at, ballot.cast_by, data))
            rows.append({"motion_id": motion.id, "seq": seq, "kind": kind, "at": at,
                         "actor_user_id": ballot.cast_by, "data": data, "prev_hash": head, "hash": digest})
            head = digest
    db.session.execute(sa.insert(VoteEvent), rows)
    ids = [ballot.id for ballot in pending]
    for start in range(0, len(ids), 500):
        db.session.execute(_LINKED, {"ids": ids[start:start + 500]})
    motion.chain_length, motion.chain_head = seq, head
    return len(pending)


# Built once: a statement built per call costs more in SQLAlchemy than its execution. The pending
# condition is written out literally so that SQLite uses the partial index ix_ballot_chain_pending.
_B = Ballot.__table__
_PENDING = (sa.select(_B.c.id, _B.c.voter_id, _B.c.channel, _B.c.digest, _B.c.replaces_id, _B.c.cast_at,
                      _B.c.cast_by)
            .where(_B.c.motion_id == sa.bindparam("motion_id"), sa.text("ballot.chain_pending")).order_by(_B.c.id))
_LINKED = (sa.update(_B).where(_B.c.id.in_(sa.bindparam("ids", expanding=True)))
           .values(chain_pending=False).execution_options(synchronize_session=False))


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
    pending = 0
    if not problems:
        late = clock.now() - PENDING_GRACE
        for ballot in db.session.execute(sa.select(Ballot).where(Ballot.motion_id == motion_id)
                                         .order_by(Ballot.id)).scalars():
            digest = ballot_digest(ballot)
            if ballot.chain_pending:
                pending += 1
                if ballot.id in recorded:
                    problems.append({"ballot": ballot.id, "problem": "ballot marked pending is already in the chain"})
                    break
                if ballot.digest != digest or ballot.receipt != digest[:10]:
                    problems.append({"ballot": ballot.id, "problem": "pending ballot does not match its digest"})
                    break
                if ballot.cast_at < late:
                    problems.append({"ballot": ballot.id, "problem": "ballot not linked into the chain in time"})
                    break
                continue
            if recorded.get(ballot.id) != digest or ballot.digest != digest or ballot.receipt != digest[:10]:
                problems.append({"ballot": ballot.id, "problem": "ballot does not match the digest recorded at casting"})
                break
    return {"motion_id": motion_id, "valid": not problems, "events": count, "head": prev, "pending": pending,
            "problems": problems}
