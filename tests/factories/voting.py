"""Factories of the voting domain's objects."""
from __future__ import annotations

from decimal import Decimal

from models.base import db
from models.people import User
from models.places import Building, Entrance, Estate, Owner, Ownership, Unit
from tests.factories import World, n


def make_voting_estate(world: World, layout: list[tuple]) -> dict:
    """An estate for voting tests in ``world``'s street: ``layout`` rows are
    (building number, entrance number, area, holders, sold), holders a tuple of owner tags (the first is
    the designated voter) or () for a unit not on the register; "developer" holds unsold units.
    Returns {"estate", "units": [Unit…], "users": {tag: User}, "owners": {tag: Owner}}."""
    estate = Estate(code=f"v{n()}", street_id=world.street.id, name="和睦家园")
    estate.neighbourhoods = [world.nb]
    db.session.add(estate)
    db.session.flush()
    buildings, entrances, units, users, owners = {}, {}, [], {}, {}
    for index, (b_no, e_no, area, holders, sold) in enumerate(layout):
        if b_no not in buildings:
            buildings[b_no] = Building(estate_id=estate.id, neighbourhood_id=world.nb.id, number=b_no,
                                       name=f"{b_no}号楼")
            db.session.add(buildings[b_no])
            db.session.flush()
        if (b_no, e_no) not in entrances:
            entrances[(b_no, e_no)] = Entrance(building_id=buildings[b_no].id, number=e_no)
            db.session.add(entrances[(b_no, e_no)])
            db.session.flush()
        unit = Unit(entrance_id=entrances[(b_no, e_no)].id, building_id=buildings[b_no].id, estate_id=estate.id,
                    number=f"{index // 2 + 1}{index % 2 + 1:02d}", floor=index // 2 + 1,
                    exclusive_area=Decimal(area), sold=sold)
        db.session.add(unit)
        db.session.flush()
        units.append(unit)
        for position, tag in enumerate(holders):
            if tag not in owners:
                if tag == "developer":
                    owners[tag] = Owner(kind="developer", name="上海和睦房地产开发有限公司", estate_id=estate.id)
                else:
                    users[tag] = User(nickname=tag)
                    db.session.add(users[tag])
                    db.session.flush()
                    owners[tag] = Owner(kind="person", name=f"业主{tag}", user_id=users[tag].id)
                db.session.add(owners[tag])
                db.session.flush()
            db.session.add(Ownership(unit_id=unit.id, owner_id=owners[tag].id, is_designated_voter=position == 0,
                                     certificate_no=f"沪{unit.id}"))
    db.session.commit()
    return {"estate": estate, "units": units, "users": users, "owners": owners, "buildings": buildings,
            "entrances": entrances}
