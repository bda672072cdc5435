"""Property: for random electorates and ballots, the tally equals a brute-force recount from the register and
the ballot table (per-owner heads, summed areas, both ledgers); and a short participation extends once."""
import dataclasses
import random
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from models.base import db
from models.voting import Ballot, Motion, Voter
from service import clock
from service.voting import reminders, rules
from tests.api.test_voting import CLOSES, finish, start, vote
from tests.factories import make_user, make_world
from tests.factories.voting import make_voting_estate


def brute_force(layout, ballots_by_tag, approval_rule):
    """Recount from scratch: an entity is a unit's holder set, the developer's unsold units are one."""
    entities = {}
    for _, _, area, holders, sold in layout:
        key = "developer" if not sold else tuple(sorted(holders))
        entities.setdefault(key, [Decimal(0), holders[0] if holders else None])[0] += Decimal(area)
    total_area = sum(v[0] for v in entities.values())
    part_area = yes_area = Decimal(0)
    part_heads = yes_heads = 0
    for key, (area, voter) in entities.items():
        choice = ballots_by_tag.get(key)
        if choice is None:
            continue
        part_area += area
        part_heads += 1
        if choice == "yes":
            yes_area += area
            yes_heads += 1
    n = len(entities)
    quorum = part_area / total_area >= Decimal(2) / 3 and Decimal(part_heads) / n >= Decimal(2) / 3
    if approval_rule == "majority":
        ok = part_heads and yes_area / part_area > Decimal(1) / 2 and Decimal(yes_heads) / part_heads > Decimal(1) / 2
    else:
        ok = part_heads and yes_area / part_area >= Decimal(3) / 4 and Decimal(yes_heads) / part_heads >= Decimal(3) / 4
    return {"total_area": total_area, "heads": n, "part": (part_area, part_heads), "yes": (yes_area, yes_heads),
            "passed": bool(quorum and ok)}


@pytest.mark.parametrize("seed", range(6))
def test_tally_equals_brute_force_recount(client, seed):
    rng = random.Random(seed)
    world = make_world()
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    tags = [f"p{i}" for i in range(rng.randint(3, 9))]
    layout = []
    for _ in range(rng.randint(6, 16)):
        area = f"{rng.randint(3000, 15000) / 100:.2f}"
        kind = rng.random()
        if kind < 0.15:
            layout.append(("1", "1", area, ("developer",), False))
        elif kind < 0.3:
            first, second = rng.sample(tags, 2)
            layout.append(("1", "1", area, (first, second), True))
        else:
            layout.append(("2", "1", area, (rng.choice(tags),), True))
    e = make_voting_estate(world, layout)
    item = rng.choice([2, 4, 6, 7])
    motion_id = start(client, staff, e["estate"].id, item=item)
    entities = {tuple(sorted(holders)): holders[0] for _, _, _, holders, sold in layout if sold}
    ballots = {}
    for key, tag in sorted(entities.items()):
        if rng.random() < 0.85:
            entity_key = "owners:" + ",".join(str(i) for i in sorted(e["owners"][t].id for t in key))
            voter_id = db.session.execute(sa.select(Voter.id).where(Voter.motion_id == motion_id,
                                                                    Voter.entity_key == entity_key)).scalar_one()
            ballots[key] = rng.choice(["yes", "yes", "no", "abstain"])
            response = vote(client, e["users"][tag], motion_id, ballots[key], voter_id=voter_id)
            assert response.status_code == 201, response.json
    result = finish(client, staff, motion_id)
    expected = brute_force(layout, ballots, rules.current().item(item).approval)
    assert Decimal(result["total_area"]) == expected["total_area"] and result["total_heads"] == expected["heads"]
    assert (Decimal(result["participation"]["area"]), result["participation"]["heads"]) == expected["part"]
    assert (Decimal(result["ledgers"]["yes"]["area"]), result["ledgers"]["yes"]["heads"]) == expected["yes"]
    assert result["passed"] == expected["passed"]


def test_short_participation_extends_once_then_fails(client, monkeypatch):
    monkeypatch.setattr(rules, "_rules", dataclasses.replace(rules.current(), policy=dataclasses.replace(
        rules.current().policy, extension_days=30)))
    world = make_world()
    staff = make_user(name="李", roles=[("staff", "neighbourhood", world.nb.id)])
    e = make_voting_estate(world, [("1", "1", "50.00", (f"o{i}",), True) for i in range(3)])
    motion_id = start(client, staff, e["estate"].id)
    vote(client, e["users"]["o0"], motion_id)
    clock.set_now(CLOSES + timedelta(minutes=1))
    assert reminders.close_due() == {"counted": 0, "failed": 0, "extended": 1}
    motion = db.session.get(Motion, motion_id)
    assert motion.status == "open" and motion.extended and motion.closes_at == CLOSES + timedelta(days=30)
    assert vote(client, e["users"]["o1"], motion_id).status_code == 201
    clock.set_now(CLOSES + timedelta(days=30, minutes=1))
    assert reminders.close_due() == {"counted": 1, "failed": 0, "extended": 0}
    assert db.session.get(Motion, motion_id).result["passed"] is True
