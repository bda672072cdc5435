"""Counting a motion: the Art. 278 arithmetic, in integers only, the result of a motion's ballots (both
ledgers, per candidate, per building), the turnout so far and the printable announcement.

Areas are counted in hundredths of a square metre (the register's exact scale) and every comparison is a
cross-multiplication (Art. 1259: 以上 includes the boundary, 过半数 does not):

    quorum     = 3*a_p >= 2*A   and 3*n_p >= 2*N
    pass_3_4   = 4*a_y >= 3*a_p and 4*n_y >= 3*n_p      (items 6–8)
    pass_major = 2*a_y >  a_p   and 2*n_y >  n_p        (items 1–5, 9)
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from models.base import db
from models.places import Building, Estate
from models.voting import Ballot, BallotRefusal, Motion, Voter, VoterUnit
from service import clock
from service.voting import rules
from service.voting.rules import Item

CENTI = 100
CHOICES = ("yes", "no", "abstain", "spoiled")
PARTICIPATION_RULE = "3×a_p ≥ 2×A 且 3×n_p ≥ 2×N"


def centi(area: Decimal | int | str) -> int:
    """An area in m² as an integer count of 0.01 m²; refuses anything finer."""
    value = Decimal(str(area)) * CENTI
    if value != value.to_integral_value():
        raise ValueError(f"{area} m² is finer than 0.01 m²")
    return int(value)


def quorum(a_p: int, n_p: int, total_area: int, total_heads: int) -> tuple[bool, bool]:
    """(area ledger met, heads ledger met): participation ≥ 2/3 of the total."""
    return 3 * a_p >= 2 * total_area, 3 * n_p >= 2 * total_heads


def approval(approval_rule: str, a_y: int, n_y: int, a_p: int, n_p: int) -> tuple[bool, bool]:
    """(area ledger passed, heads ledger passed) among the participants."""
    if approval_rule == "three_quarters":
        return 4 * a_y >= 3 * a_p, 4 * n_y >= 3 * n_p
    if approval_rule == "majority":
        return 2 * a_y > a_p, 2 * n_y > n_p
    raise ValueError(approval_rule)


@dataclass
class Ledger:
    """Sums over ballots: area in 0.01 m², heads."""
    area: int = 0
    heads: int = 0

    def add(self, area: int, heads: int = 1) -> None:
        self.area += area
        self.heads += heads


def fraction(numerator: int, denominator: int) -> str:
    return f"{numerator}/{denominator}"


def decide(approval_rule: str, *, total_area: int, total_heads: int, yes: Ledger, no: Ledger, abstain: Ledger,
           spoiled: Ledger, silent_with_majority: bool = False) -> dict:
    """The decision with both ledgers and the arithmetic as exact fractions."""
    part = Ledger(yes.area + no.area + abstain.area + spoiled.area, yes.heads + no.heads + abstain.heads
                  + spoiled.heads)
    silent = Ledger(total_area - part.area, total_heads - part.heads)
    consent = Ledger(yes.area, yes.heads)
    silent_applied = None
    if silent_with_majority and (silent.area or silent.heads):
        # 计入已表决的多数票: silent owners join the side holding the majority of the ballots cast,
        # decided per ledger; they then count as participants. Only when the assembly's rules provide it.
        dissent = Ledger(part.area - yes.area, part.heads - yes.heads)
        area_to_yes = yes.area > dissent.area
        heads_to_yes = yes.heads > dissent.heads
        consent = Ledger(yes.area + (silent.area if area_to_yes else 0), yes.heads + (silent.heads if heads_to_yes
                                                                                      else 0))
        silent_applied = {"area": _m2(silent.area), "heads": silent.heads,
                          "area_joined": "yes" if area_to_yes else "not_yes",
                          "heads_joined": "yes" if heads_to_yes else "not_yes"}
        part = Ledger(total_area, total_heads)
    quorum_area, quorum_heads = quorum(part.area, part.heads, total_area, total_heads)
    approve_area, approve_heads = approval(approval_rule, consent.area, consent.heads, part.area, part.heads)
    quorum_met = quorum_area and quorum_heads
    approved = approve_area and approve_heads
    if approval_rule == "three_quarters":
        rule_area = f"4×{consent.area} ≥ 3×{part.area}"
        rule_heads = f"4×{consent.heads} ≥ 3×{part.heads}"
    else:
        rule_area = f"2×{consent.area} > {part.area}"
        rule_heads = f"2×{consent.heads} > {part.heads}"
    return {
        "approval_rule": approval_rule,
        "participation": {"area": _m2(part.area), "heads": part.heads,
                          "area_fraction": fraction(part.area, total_area),
                          "heads_fraction": fraction(part.heads, total_heads),
                          "area_met": quorum_area, "heads_met": quorum_heads, "met": quorum_met,
                          "arithmetic": [f"3×{part.area} ≥ 2×{total_area}", f"3×{part.heads} ≥ 2×{total_heads}"]},
        "approval": {"area": _m2(consent.area), "heads": consent.heads,
                     "area_fraction": fraction(consent.area, part.area) if part.area else "0/0",
                     "heads_fraction": fraction(consent.heads, part.heads) if part.heads else "0/0",
                     "area_met": approve_area, "heads_met": approve_heads, "met": approved,
                     "arithmetic": [rule_area, rule_heads]},
        "silent_counted_with_majority": silent_applied,
        "passed": quorum_met and approved,
    }


def _m2(centi_area: int) -> str:
    sign = "-" if centi_area < 0 else ""
    value = abs(centi_area)
    return f"{sign}{value // CENTI}.{value % CENTI:02d}"


# --- a motion's result ----------------------------------------------------------------------------------------

def compute_result(motion: Motion) -> dict:
    """Tally the counted ballots of the frozen electorate in exact integers; both ledgers."""
    total_area, total_heads = centi(motion.total_area or 0), motion.total_heads or 0
    item = rules.current().item(motion.item)
    ledgers = {choice: Ledger() for choice in CHOICES}
    channels: dict[str, int] = {}
    if motion.kind == "election":
        candidates = _count_election(motion, ledgers, channels)
        result = _election_result(motion, item, ledgers, candidates, total_area, total_heads)
    else:
        _count_question(motion, ledgers, channels)
        result = decide(item.approval, total_area=total_area, total_heads=total_heads, yes=ledgers["yes"],
                        no=ledgers["no"], abstain=ledgers["abstain"], spoiled=ledgers["spoiled"],
                        silent_with_majority=motion.silent_with_majority)
    result.update({
        "total_area": _m2(total_area), "total_heads": total_heads, "area_unit": "0.01 m²",
        "ledgers": {k: {"area": _m2(v.area), "heads": v.heads} for k, v in ledgers.items()},
        "channels": channels, "item": motion.item, "item_name": item.zh, "rule": _rule(motion, item),
        "snapshot_hash": motion.snapshot_hash,
    })
    return result


def _count_election(motion: Motion, ledgers: dict[str, Ledger], channels: dict[str, int]) -> dict[int, Ledger]:
    """Each counted ballot into the choice ledgers (naming a candidate: yes; none: abstain) and each
    candidate's ledger; returns the candidates' ledgers."""
    candidates = {c.id: Ledger() for c in motion.candidates}
    rows = db.session.execute(sa.select(Voter.area, Ballot.choice, Ballot.candidate_ids, Ballot.channel)
                              .join(Voter, Voter.id == Ballot.voter_id)
                              .where(Ballot.motion_id == motion.id, Ballot.status == "counted")).all()
    for area, choice, ids, channel in rows:
        a = centi(area)
        channels[channel] = channels.get(channel, 0) + 1
        if choice == "spoiled":
            ledgers["spoiled"].add(a)
            continue
        ledgers["yes" if ids else "abstain"].add(a)
        for cid in ids or []:
            candidates[cid].add(a)
    return candidates


def _count_question(motion: Motion, ledgers: dict[str, Ledger], channels: dict[str, int]) -> None:
    rows = db.session.execute(sa.select(Ballot.choice, Ballot.channel, sa.func.sum(Voter.area),
                                        sa.func.count(Ballot.id))
                              .join(Voter, Voter.id == Ballot.voter_id)
                              .where(Ballot.motion_id == motion.id, Ballot.status == "counted")
                              .group_by(Ballot.choice, Ballot.channel)).all()
    for choice, channel, area, heads in rows:
        ledgers[choice].add(centi(area or 0), heads)
        channels[channel] = channels.get(channel, 0) + heads


def _election_result(motion: Motion, item: Item, ledgers: dict[str, Ledger], candidates: dict[int, Ledger],
                     total_area: int, total_heads: int) -> dict:
    """Participation counts every counted ballot; consent is per candidate. The seats go to the candidates
    who passed, most heads first, then most area, then the ballot's order."""
    part = Ledger(sum(x.area for x in ledgers.values()), sum(x.heads for x in ledgers.values()))
    quorum_area, quorum_heads = quorum(part.area, part.heads, total_area, total_heads)
    figures = []
    for c in motion.candidates:
        got = candidates[c.id]
        ok_area, ok_heads = approval(item.approval, got.area, got.heads, part.area, part.heads)
        figures.append({"id": c.id, "name": c.name, "position": c.position, "area": _m2(got.area),
                        "heads": got.heads, "area_fraction": f"{got.area}/{part.area}",
                        "heads_fraction": f"{got.heads}/{part.heads}", "area_met": ok_area,
                        "heads_met": ok_heads, "passed": quorum_area and quorum_heads and ok_area and ok_heads,
                        "_key": (-got.heads, -got.area, c.position)})
    passers = sorted((f for f in figures if f["passed"]), key=lambda f: f["_key"])
    seated = passers[:motion.seats]
    tie = (len(passers) > motion.seats and passers[motion.seats - 1]["_key"][:2] == passers[motion.seats]["_key"][:2])
    for f in figures:
        f["seated"] = f in seated
        f.pop("_key")
    base = decide(item.approval, total_area=total_area, total_heads=total_heads, yes=ledgers["yes"],
                  no=ledgers["no"], abstain=ledgers["abstain"], spoiled=ledgers["spoiled"])
    base.pop("approval")
    return {**base, "candidates": figures, "seated": [f["id"] for f in seated], "tie_for_last_seat": tie,
            "passed": bool(seated)}


def _rule(motion: Motion, item: Item) -> dict:
    return {"participation": PARTICIPATION_RULE,
            "approval": "4×a_y ≥ 3×a_p 且 4×n_y ≥ 3×n_p" if item.approval == "three_quarters"
            else "2×a_y > a_p 且 2×n_y > n_p",
            "revote": motion.revote, "silent_with_majority": motion.silent_with_majority,
            "silent_rule_clause": motion.silent_rule_clause, "spoiled_counts_as": "abstain"}


def buildings(motion: Motion) -> list[dict]:
    """Per building: its units' area and unit count by choice (heads are counted estate-wide only)."""
    totals = dict((b, (centi(a or 0), n)) for b, a, n in db.session.execute(
        sa.select(VoterUnit.building_id, sa.func.sum(VoterUnit.area), sa.func.count(VoterUnit.id))
        .where(VoterUnit.motion_id == motion.id).group_by(VoterUnit.building_id)).all())
    names = dict(db.session.execute(sa.select(Building.id, Building.name).where(Building.id.in_(list(totals)))).all())
    by = {b: {"building_id": b, "name": names.get(b), "area": _m2(t[0]), "units": t[1],
              "voted_area": "0.00", "voted_units": 0, "yes_area": "0.00", "yes_units": 0} for b, t in totals.items()}
    rows = db.session.execute(
        sa.select(VoterUnit.building_id, Ballot.choice, sa.func.sum(VoterUnit.area), sa.func.count(VoterUnit.id))
        .join(Ballot, sa.and_(Ballot.voter_id == VoterUnit.voter_id, Ballot.status == "counted"))
        .where(VoterUnit.motion_id == motion.id, Ballot.motion_id == motion.id)
        .group_by(VoterUnit.building_id, Ballot.choice)).all()
    acc: dict[int, list[int]] = {}
    for building_id, choice, area, count in rows:
        a = acc.setdefault(building_id, [0, 0, 0, 0])
        a[0] += centi(area or 0)
        a[1] += count
        if choice == "yes":
            a[2] += centi(area or 0)
            a[3] += count
    for building_id, (va, vu, ya, yu) in acc.items():
        by[building_id].update(voted_area=_m2(va), voted_units=vu, yes_area=_m2(ya), yes_units=yu)
    return sorted(by.values(), key=lambda b: b["building_id"])


def report(motion: Motion) -> dict:
    """The result as published: the count, the decision, per building, the chain's head and the 公告."""
    figures = compute_result(motion)
    figures.update({"motion_id": motion.id, "status": motion.status, "decision": _decision(figures),
                    "buildings": buildings(motion) if motion.kind != "election" else [],
                    "chain_head": motion.chain_head, "chain_length": motion.chain_length,
                    "published_at": motion.published_at, "publish_until": motion.publish_until})
    figures["announcement"] = announcement(motion, figures)
    return figures


def _decision(figures: dict) -> str:
    if not figures["participation"]["met"]:
        return "failed_participation"
    return "passed" if figures["passed"] else "rejected"


def announcement(motion: Motion, r: dict) -> str:
    """The printable 公告 (Chinese)."""
    estate = db.session.get(Estate, motion.estate_id)
    part, ledgers = r["participation"], r["ledgers"]
    outcome = {"passed": "通过", "rejected": "未通过", "failed_participation": "未通过（参与表决的业主未达法定比例）"}[
        r["decision"]]
    lines = [f"{estate.name}业主大会表决结果公告", "",
             f"表决事项：{motion.title}（《民法典》第二百七十八条第{motion.item}项：{r['item_name']}）",
             f"表决期间：{motion.opens_at.astimezone(clock.SHANGHAI):%Y年%m月%d日} 至 "
             f"{motion.closes_at.astimezone(clock.SHANGHAI):%Y年%m月%d日}",
             f"表决范围内专有部分总面积 {r['total_area']} 平方米，业主总人数 {r['total_heads']} 人。",
             f"参与表决：面积 {part['area']} 平方米，人数 {part['heads']} 人"
             f"（面积{'达到' if part['area_met'] else '未达到'}、人数{'达到' if part['heads_met'] else '未达到'}三分之二）。"]
    if motion.kind == "election":
        for c in r["candidates"]:
            lines.append(f"候选人{c['name']}：同意面积 {c['area']} 平方米，同意人数 {c['heads']} 人，"
                         f"{'当选' if c['seated'] else '未当选'}。")
    else:
        lines.append(f"同意：面积 {ledgers['yes']['area']} 平方米，{ledgers['yes']['heads']} 人；"
                     f"不同意：面积 {ledgers['no']['area']} 平方米，{ledgers['no']['heads']} 人；"
                     f"弃权：面积 {ledgers['abstain']['area']} 平方米，{ledgers['abstain']['heads']} 人；"
                     f"废票：面积 {ledgers['spoiled']['area']} 平方米，{ledgers['spoiled']['heads']} 人。")
    if r.get("silent_counted_with_majority"):
        lines.append(f"依业主大会议事规则（{motion.silent_rule_clause}），未参与表决业主计入已表决的多数票。")
    lines += [f"表决结果：{outcome}。", f"名册快照哈希：{r['snapshot_hash']}", f"表决记录链头哈希：{r['chain_head']}",
              "业主可凭投票回执码核对本人选票已计入。对决定有异议的，可依《民法典》第二百八十条请求人民法院撤销。"]
    return "\n".join(lines)


# --- the turnout so far -------------------------------------------------------------------------------------

def turnout(motion: Motion) -> dict:
    """Area and heads of the counted ballots against the electorate's totals and the 2/3 thresholds, what
    is still needed, paper ballots awaiting confirmation apart, and the refusals so far. Never a choice."""
    ledgers = {"counted": Ledger(), "pending": Ledger()}
    for status, area, heads in db.session.execute(
            sa.select(Ballot.status, sa.func.sum(Voter.area), sa.func.count(Ballot.id))
            .join(Voter, Voter.id == Ballot.voter_id)
            .where(Ballot.motion_id == motion.id, Ballot.status.in_(("pending", "counted")))
            .group_by(Ballot.status)).all():
        ledgers[status].add(centi(area or 0), heads)
    total_area, total_heads = centi(motion.total_area or 0), motion.total_heads or 0
    part = ledgers["counted"]
    area_met, heads_met = quorum(part.area, part.heads, total_area, total_heads)
    refusals = db.session.execute(sa.select(sa.func.count()).select_from(BallotRefusal)
                                  .where(BallotRefusal.motion_id == motion.id)).scalar_one()
    return {
        "motion_id": motion.id, "status": motion.status, "total_area": _m2(total_area), "total_heads": total_heads,
        "voted": {"area": _m2(part.area), "heads": part.heads},
        "pending": {"area": _m2(ledgers["pending"].area), "heads": ledgers["pending"].heads},
        "participation": {"area_fraction": fraction(part.area, total_area),
                          "heads_fraction": fraction(part.heads, total_heads),
                          "area_met": area_met, "heads_met": heads_met, "met": area_met and heads_met,
                          "arithmetic": [f"3×{part.area} ≥ 2×{total_area}", f"3×{part.heads} ≥ 2×{total_heads}"]},
        # The least a_p and n_p with 3×a_p ≥ 2×A and 3×n_p ≥ 2×N are ⌈2A/3⌉ and ⌈2N/3⌉.
        "still_needed": {"area": _m2(max(0, (2 * total_area + 2) // 3 - part.area)),
                         "heads": max(0, (2 * total_heads + 2) // 3 - part.heads)},
        "refusals": refusals,
    }
