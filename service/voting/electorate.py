"""Freezing the electorate when voting opens.

Counting rules (《业主大会和业主委员会指导规则》 Arts. 23–24; 区分所有权司法解释 Arts. 8–9):
- a unit's area counts once, from the register with its recorded source;
- heads count owner entities: a unit's current owners together are one entity, so one owner of several
  units counts once with the areas summed, and co-owners of a unit count once and vote through their one
  designated voter; someone owning one unit alone and another jointly is two entities (the brief's default);
- every unit the developer has not sold or delivered, together, is one head, voted by the developer (its
  own title, else the estate's developer on the register); a unit the register shows titled to a buyer is
  that buyer's, delivered or not, and the buyer votes for it alone (never for the developer's stock);
- a unit with no current title on the register (buyer in possession, unregistered) is its own head and
  votes on paper or by proxy.
Later changes to the register do not touch a frozen electorate.
"""
from __future__ import annotations

import hashlib
from decimal import Decimal

import sqlalchemy as sa

from models.base import db
from models.places import Building, Entrance, Owner, Ownership, Unit
from models.voting import Motion, Voter, VoterUnit


def _in_scope(query, motion: Motion):
    query = query.where(Unit.estate_id == motion.estate_id)
    if motion.scope_type == "buildings":
        query = query.where(Unit.building_id.in_(motion.scope_ids))
    elif motion.scope_type == "entrance":
        query = query.where(Unit.entrance_id.in_(motion.scope_ids))
    return query


def scope_units(motion: Motion):
    # The area is read as stored: an integer of 0.01 m² (ExactDecimal's scale), exact and cheap. Core
    # execution: tens of thousands of plain rows need no ORM row processing.
    query = (sa.select(Unit.id, Unit.building_id, sa.type_coerce(Unit.exclusive_area, sa.BigInteger),
                       Unit.area_source, Unit.sold, Unit.number,
                       Building.number, Entrance.number)
             .join(Building, Building.id == Unit.building_id).join(Entrance, Entrance.id == Unit.entrance_id))
    return db.session.connection().execute(_in_scope(query, motion).order_by(Unit.id)).all()


def scope_titles(motion: Motion) -> dict[int, list]:
    """The current titles of the units in scope, by unit (joined on the scope, not an IN list of unit ids:
    compiling thousands of bound parameters cost more than the query)."""
    query = (sa.select(Ownership.unit_id, Ownership.owner_id, Ownership.is_designated_voter, Owner.kind, Owner.name,
                       Owner.user_id)
             .join(Owner, Owner.id == Ownership.owner_id).join(Unit, Unit.id == Ownership.unit_id)
             .where(Ownership.ended_on.is_(None)))
    titles: dict[int, list] = {}
    for row in db.session.connection().execute(_in_scope(query, motion).order_by(Ownership.id)).all():
        held = titles.get(row.unit_id)
        if held is None:
            titles[row.unit_id] = [row]
        else:
            held.append(row)
    return titles


def unit_label(building: str, entrance: str, number: str) -> str:
    """3号楼2单元1501: what the committee and staff knocking on doors, and the unit's owner, see."""
    return f"{building}号楼{entrance}单元{number}"


def unit_labels(unit_ids) -> dict[int, str]:
    """Full labels of the given units (a page of them), read from the register."""
    ids = sorted(set(unit_ids))
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Unit.id, Building.number, Entrance.number, Unit.number)
                              .join(Building, Building.id == Unit.building_id)
                              .join(Entrance, Entrance.id == Unit.entrance_id).where(Unit.id.in_(ids))).all()
    return {unit_id: unit_label(building, entrance, number) for unit_id, building, entrance, number in rows}


def voter_labels(motion_id: int, voter_ids) -> dict[int, str]:
    """The full label of each voter's first unit (the unit its masked ``Voter.label`` shows)."""
    ids = sorted(set(voter_ids))
    if not ids:
        return {}
    first = dict(db.session.execute(sa.select(VoterUnit.voter_id, sa.func.min(VoterUnit.unit_id))
                                    .where(VoterUnit.motion_id == motion_id, VoterUnit.voter_id.in_(ids))
                                    .group_by(VoterUnit.voter_id)).all())
    labels = unit_labels(first.values())
    return {voter_id: labels.get(unit_id, "") for voter_id, unit_id in first.items()}


def masked_unit_label(building: str, entrance: str, number: str) -> str:
    """3号楼2单元**01: the room's floor digits are hidden in public lists."""
    tail = number[-2:] if len(number) > 2 else number
    return f"{building}号楼{entrance}单元{'*' * max(len(number) - len(tail), 2)}{tail}"


def freeze(motion: Motion) -> dict:
    """Write the electorate of ``motion`` (its voters and units) and set A, N and the snapshot hash."""
    units = scope_units(motion)
    titles = scope_titles(motion)
    entities: dict[str, dict] = {}
    unit_rows = []  # (entity key, unit id, building id, area, area source, label)
    developer_key = f"developer:{motion.estate_id}"
    for unit_id, building_id, area, source, sold, number, building_no, entrance_no in units:
        held = titles.get(unit_id) or []
        # A title held by anyone but the developer makes the unit that buyer's, delivered or not; the
        # developer's own titles and its untitled stock are the developer's, voted by the developer.
        buyers = [t for t in held if t.kind != "developer"]
        if buyers:
            designated = next((t for t in buyers if t.is_designated_voter), buyers[0])
            key, kind = "owners:" + ",".join(str(i) for i in sorted(t.owner_id for t in buyers)), "owners"
        elif held or not sold:
            designated = held[0] if held else None
            key, kind = developer_key, "developer"
        else:
            designated = None
            key, kind = f"unit:{unit_id}", "unregistered"
        label = masked_unit_label(building_no, entrance_no, number)
        entity = entities.get(key)
        if entity is None:
            entity = entities[key] = {"kind": kind, "owner_id": None, "user_id": None, "name": "", "area": 0,
                                      "units": 0, "label": label}
        if entity["owner_id"] is None and designated is not None:
            entity["owner_id"], entity["user_id"], entity["name"] = (designated.owner_id, designated.user_id,
                                                                     designated.name)
        if kind == "unregistered":
            entity["name"] = "未登记业主"
        entity["area"] += area
        entity["units"] += 1
        unit_rows.append((key, unit_id, building_id, area, source, label))
    developer = entities.get(developer_key)
    if developer is not None and developer["owner_id"] is None:
        # Untitled unsold stock only: the estate's developer on the register votes for it.
        row = db.session.execute(sa.select(Owner.id, Owner.user_id, Owner.name).where(
            Owner.kind == "developer", Owner.estate_id == motion.estate_id).order_by(Owner.id).limit(1)).first()
        if row is not None:
            developer["owner_id"], developer["user_id"], developer["name"] = row
    keys = sorted(entities)
    motion_id = motion.id
    if not keys:
        motion.total_area, motion.total_heads, motion.snapshot_hash = _area(0), 0, hashlib.sha256().hexdigest()
        return {"units": 0, "heads": 0, "area": "0.00", "snapshot_hash": motion.snapshot_hash}
    _bulk_insert("motion_voter", ("motion_id", "entity_key", "kind", "owner_id", "user_id", "name", "area", "units",
                                  "label"),
                 [(motion_id, key, entities[key]["kind"], entities[key]["owner_id"], entities[key]["user_id"],
                   entities[key]["name"][:100] or "业主", entities[key]["area"], entities[key]["units"],
                   entities[key]["label"]) for key in keys])
    voter_ids = dict(db.session.connection().execute(
        sa.select(Voter.entity_key, Voter.id).where(Voter.motion_id == motion.id)).all())
    _bulk_insert("motion_unit", ("motion_id", "voter_id", "unit_id", "building_id", "area", "area_source", "label"),
                 [(motion_id, voter_ids[key], unit_id, building_id, area, source, label)
                  for key, unit_id, building_id, area, source, label in unit_rows])
    total_area = sum(e["area"] for e in entities.values())
    digest = hashlib.sha256()
    # One line per unit: id, entity, area in 0.01 m², area source, the designated voter's account.
    digest.update("".join(f"{unit_id}|{key}|{area}|{source}|{entities[key]['user_id']}\n"
                          for key, unit_id, _building, area, source, _label in unit_rows).encode())
    motion.total_area = _area(total_area)
    motion.total_heads = len(entities)
    motion.snapshot_hash = digest.hexdigest()
    return {"units": len(unit_rows), "heads": len(entities), "area": str(motion.total_area),
            "snapshot_hash": motion.snapshot_hash}


def _bulk_insert(table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert many rows through the driver's executemany: the electorate of a large estate is tens of
    thousands of rows, and the ORM's per-row parameter processing would dominate. Areas are given already
    scaled to 0.01 m² (the ExactDecimal storage). On PostgreSQL the rows go through COPY, in the same
    transaction: a multi-row INSERT of thousands of parameters costs more to send and plan than the rows."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        with connection.connection.cursor() as cursor:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    group = "(" + ", ".join([marker] * len(columns)) + ")"
    per_statement = 1000  # × at most 9 columns: under SQLite's 32,766 bound parameters
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([group] * len(chunk))
        connection.exec_driver_sql(sql, tuple(value for row in chunk for value in row))


def _area(centi_area: int) -> Decimal:
    return Decimal(centi_area) / 100
