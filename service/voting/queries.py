"""Reading motions: details, the result (computed from the ballot table), receipts, participation."""
from __future__ import annotations

import sqlalchemy as sa

from models.base import db
from models.places import Building, Estate
from models.voting import Ballot, BallotRefusal, Candidate, Motion, Voter, VoterUnit
from service import audit, clock
from service.db import paginate
from service.errors import Conflict, Forbidden, NotFound
from service.voting import chain, electorate, rules, workflow
from service.voting.tally import Ledger, _m2, approval, centi, decide, fraction, quorum


def summary(motion: Motion, lang: str = "zh") -> dict:
    item = rules.item(motion.item)
    return {"id": motion.id, "estate_id": motion.estate_id, "title": motion.title, "item": motion.item,
            "item_name": item.name(lang), "approval_rule": item.approval, "kind": motion.kind,
            "status": motion.status, "scope_type": motion.scope_type, "scope_ids": motion.scope_ids,
            "opens_at": motion.opens_at, "closes_at": motion.closes_at, "announced_at": motion.announced_at,
            "extended": motion.extended, "published_at": motion.published_at}


def detail(actor, motion: Motion, lang: str = "zh") -> dict:
    data = summary(motion, lang)
    data.update({
        "body": motion.body, "attachments": motion.attachments or [], "seats": motion.seats,
        "candidates": [{"id": c.id, "position": c.position, "name": c.name, "statement": c.statement}
                       for c in motion.candidates],
        "major_repair": motion.major_repair, "notice_days": motion.notice_days,
        "publication_days": motion.publication_days, "revote": motion.revote,
        "silent_with_majority": motion.silent_with_majority, "silent_rule_clause": motion.silent_rule_clause,
        "publish_until": motion.publish_until, "total_area": str(motion.total_area) if motion.total_area is not None
        else None, "total_heads": motion.total_heads, "snapshot_hash": motion.snapshot_hash,
        "chain_head": motion.chain_head, "can_manage": workflow.may_manage(actor, motion.estate_id)})
    return data


def list_motions(actor, estate_id: int, *, status: str | None, page: int, page_size: int):
    if db.session.get(Estate, estate_id) is None:
        raise NotFound(code="voting.estate_not_found", zh="小区不存在", en="Estate not found")
    if not workflow.may_view(actor, estate_id):
        raise Forbidden(code="voting.not_owner", zh="仅本小区业主及相关工作人员可查看", en="Only the estate's owners and staff")
    query = sa.select(Motion).where(Motion.estate_id == estate_id)
    if not workflow.may_manage(actor, estate_id):
        query = query.where(Motion.status != "draft")
    if status:
        query = query.where(Motion.status == status)
    return paginate(query.order_by(Motion.id.desc()), page, page_size)


# --- the count ---------------------------------------------------------------------------------------------

def compute_result(motion: Motion) -> dict:
    """Tally the counted ballots of the frozen electorate in exact integers; both ledgers."""
    total_area, total_heads = centi(motion.total_area or 0), motion.total_heads or 0
    item = rules.item(motion.item)
    ledgers = {c: Ledger() for c in ("yes", "no", "abstain", "spoiled")}
    channels: dict[str, int] = {}
    if motion.kind == "election":
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
    else:
        rows = db.session.execute(sa.select(Ballot.choice, Ballot.channel, sa.func.sum(Voter.area),
                                            sa.func.count(Ballot.id))
                                  .join(Voter, Voter.id == Ballot.voter_id)
                                  .where(Ballot.motion_id == motion.id, Ballot.status == "counted")
                                  .group_by(Ballot.choice, Ballot.channel)).all()
        for choice, channel, area, heads in rows:
            ledgers[choice].add(centi(area or 0), heads)
            channels[channel] = channels.get(channel, 0) + heads
    if motion.kind == "election":
        # Participation: every counted ballot; consent is per candidate (below).
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
        result = {**base, "candidates": figures, "seated": [f["id"] for f in seated], "tie_for_last_seat": tie,
                  "passed": bool(seated)}
    else:
        result = decide(item.approval, total_area=total_area, total_heads=total_heads, yes=ledgers["yes"],
                        no=ledgers["no"], abstain=ledgers["abstain"], spoiled=ledgers["spoiled"],
                        silent_with_majority=motion.silent_with_majority)
    result.update({
        "total_area": _m2(total_area), "total_heads": total_heads, "area_unit": "0.01 m²",
        "ledgers": {k: {"area": _m2(v.area), "heads": v.heads} for k, v in ledgers.items()},
        "channels": channels, "item": motion.item, "item_name": item.zh,
        "rule": {"participation": "3×a_p ≥ 2×A 且 3×n_p ≥ 2×N",
                 "approval": "4×a_y ≥ 3×a_p 且 4×n_y ≥ 3×n_p" if item.approval == "three_quarters"
                 else "2×a_y > a_p 且 2×n_y > n_p",
                 "revote": motion.revote, "silent_with_majority": motion.silent_with_majority,
                 "silent_rule_clause": motion.silent_rule_clause, "spoiled_counts_as": "abstain"},
        "snapshot_hash": motion.snapshot_hash,
    })
    return result


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


def result(actor, motion_id: int) -> dict:
    motion = workflow.get_motion(actor, motion_id)
    manager = workflow.may_manage(actor, motion.estate_id)
    if motion.status not in ("counted", "failed", "published") or (motion.status != "published" and not manager):
        raise Conflict(code="voting.result_not_available", zh="计票结果尚未公布", en="The result is not available yet")
    figures = compute_result(motion)
    figures.update({"motion_id": motion.id, "status": motion.status, "decision": _decision(motion, figures),
                    "buildings": buildings(motion) if motion.kind != "election" else [],
                    "chain_head": motion.chain_head, "chain_length": motion.chain_length,
                    "published_at": motion.published_at, "publish_until": motion.publish_until})
    figures["announcement"] = announcement(motion, figures)
    return figures


def _decision(motion: Motion, figures: dict) -> str:
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


# --- receipts and participation -------------------------------------------------------------------------

def receipts(actor, motion_id: int, *, code: str | None, page: int, page_size: int):
    motion = workflow.get_motion(actor, motion_id)
    if motion.status in ("draft", "announced", "cancelled"):
        raise Conflict(code="voting.not_started", zh="表决尚未开始", en="Voting has not started")
    query = sa.select(Ballot).where(Ballot.motion_id == motion.id, Ballot.status == "counted")
    if code:
        query = query.where(Ballot.receipt == code.lower())
    items, total = paginate(query.order_by(Ballot.receipt, Ballot.id), page, page_size)
    return [{"receipt": b.receipt, "channel": b.channel} for b in items], total


def my_ballots(actor, motion_id: int) -> list[dict]:
    """The caller's ballots (their own, and those they cast as a proxy). Their own units read in full; a
    principal's stay masked for the proxy."""
    motion = workflow.get_motion(actor, motion_id)
    rows = db.session.execute(sa.select(Ballot, Voter).join(Voter, Voter.id == Ballot.voter_id).where(
        Ballot.motion_id == motion.id, sa.or_(Voter.user_id == actor.user_id, Ballot.cast_by == actor.user_id))
        .order_by(Ballot.id)).all()
    own = electorate.voter_labels(motion.id, [v.id for _, v in rows if v.user_id == actor.user_id])
    return [{"ballot_id": b.id, "voter_id": v.id, "units": v.units, "label": own.get(v.id, v.label),
             "channel": b.channel, "choice": b.choice, "candidate_ids": b.candidate_ids, "status": b.status,
             "receipt": b.receipt, "replaces_receipt": None, "cast_at": b.cast_at} for b, v in rows]


def _managed(actor, motion_id: int, en: str) -> Motion:
    motion = workflow.get_motion(actor, motion_id)
    if not workflow.may_manage(actor, motion.estate_id):
        raise Forbidden(code="voting.not_manager", zh="仅本小区业委会或居委会、街道工作人员可查看", en=en)
    return motion


# A voter's counted ballot. The live condition is written out literally (with the counted one) so that both
# databases use the partial unique index uq_ballot_live (motion_id, voter_id).
_MU, _B = VoterUnit.__table__, Ballot.__table__
_COUNTED = (sa.exists().where(_B.c.motion_id == _MU.c.motion_id, _B.c.voter_id == _MU.c.voter_id,
                              sa.text("ballot.status IN ('pending', 'counted')"), _B.c.status == "counted"))
_LIVE_STATUSES = sa.select(_B.c.voter_id, _B.c.status).where(
    _B.c.motion_id == sa.bindparam("motion_id"), _B.c.voter_id.in_(sa.bindparam("voter_ids", expanding=True)),
    sa.text("ballot.status IN ('pending', 'counted')"))


def participation(actor, motion_id: int, *, voted: bool | None = None, building_id: int | None = None,
                  page: int, page_size: int):
    """Which units have voted, for the committee and staff who go round the doors: full unit labels (no
    names, no choices), filtered by ``voted`` (a counted ballot, or none yet: a paper ballot waiting for
    its confirmation is not counted) and building, a page at a time in unit order. The view is audited."""
    motion = _managed(actor, motion_id, "Only the estate's committee or staff may see participation")
    where = [_MU.c.motion_id == motion.id]
    if building_id is not None:
        where.append(_MU.c.building_id == building_id)
    if voted is not None:
        where.append(_COUNTED if voted else ~_COUNTED)
    total = db.session.execute(sa.select(sa.func.count()).select_from(_MU).where(*where)).scalar_one()
    rows = db.session.execute(sa.select(_MU.c.unit_id, _MU.c.building_id, _MU.c.area, _MU.c.voter_id)
                              .where(*where).order_by(_MU.c.unit_id)
                              .limit(page_size).offset((page - 1) * page_size)).all()
    # The page's labels and ballot states, read for its rows only.
    labels = electorate.unit_labels(row.unit_id for row in rows)
    status = dict(db.session.execute(_LIVE_STATUSES, {"motion_id": motion.id,
                                                      "voter_ids": sorted({row.voter_id for row in rows})}).all())
    items = [{"unit_id": u, "building_id": b, "label": labels.get(u, ""), "area": str(area),
              "voted": status.get(v) == "counted", "pending_confirmation": status.get(v) == "pending"}
             for u, b, area, v in rows]
    audit.record_view(actor, "voting.participation_viewed", "motion", motion.id)
    return items, total


def turnout(actor, motion_id: int) -> dict:
    """Participation so far, while the motion is open and after: area and heads of the counted ballots
    against the electorate's totals and the 2/3 thresholds (3×a_p ≥ 2×A, 3×n_p ≥ 2×N), what is still
    needed, paper ballots awaiting confirmation apart. Never a choice. Committee and staff."""
    motion = _managed(actor, motion_id, "Only the estate's committee or staff may see the turnout")
    if motion.status in ("draft", "announced", "cancelled"):
        raise Conflict(code="voting.not_started", zh="表决尚未开始", en="Voting has not started")
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


def refusals(actor, motion_id: int, *, page: int, page_size: int):
    """Ballots the database refused (a second ballot for an owner, a mandate already used), newest first:
    channel, reason, time and the owner's unit. Committee and staff."""
    motion = _managed(actor, motion_id, "Only the estate's committee or staff may see refused ballots")
    items, total = paginate(sa.select(BallotRefusal).where(BallotRefusal.motion_id == motion.id)
                            .order_by(BallotRefusal.id.desc()), page, page_size)
    labels = electorate.voter_labels(motion.id, [r.voter_id for r in items])
    return [{"id": r.id, "voter_id": r.voter_id, "label": labels.get(r.voter_id, ""), "channel": r.channel,
             "reason": r.reason, "at": r.at} for r in items], total


def verify(actor, motion_id: int) -> dict:
    workflow.get_motion(actor, motion_id)
    return chain.verify(motion_id)
