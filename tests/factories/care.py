"""Factories of the care domain's objects."""
from __future__ import annotations

from datetime import date, datetime

from models.base import db
from models.care import Device, Elder, Pairing, Vendor
from models.people import User
from service import clock, privacy
from tests.factories import World, give_consent, make_user, n


def make_elder(world: World, *, user: User | None = None, living: str = "alone", risk_tier: int = 2,
               consent: bool = True, staff: User | None = None, neighbourhood=None, **values) -> Elder:
    """An elder on the roster of ``neighbourhood`` (world.nb), verified by ``staff`` (a new staff member of it),
    with the care consent unless ``consent=False``."""
    nb = neighbourhood or world.nb
    user = user or make_user(name=f"李阿婆{n()}", phone=f"1390000{n():04d}", neighbourhood_id=nb.id,
                             birth_date=date(1938, 5, 1))
    staff = staff or make_user(name="居委干部", roles=[("staff", "neighbourhood", nb.id)])
    if consent:
        give_consent(user, "care")
    elder = Elder(user_id=user.id, neighbourhood_id=nb.id, street_id=nb.street_id, living=living,
                  risk_tier=risk_tier, verified_by=staff.id, verified_at=clock.now(), verified_on="home_visit",
                  **values)
    db.session.add(elder)
    db.session.commit()
    return elder


def make_partner(world: World, elder: Elder | None = None, *, user: User | None = None, role: str = "partner",
                 starts_on: date | None = None) -> User:
    """A 老伙伴 volunteer (a resident of world.nb), paired with ``elder`` when one is given."""
    user = user or make_user(name=f"老伙伴{n()}", phone=f"1380000{n():04d}", neighbourhood_id=world.nb.id,
                             birth_date=date(1958, 3, 1))
    if elder is not None:
        db.session.add(Pairing(elder_id=elder.id, visitor_user_id=user.id, role=role,
                               starts_on=starts_on or clock.local_now().date(), created_by=user.id))
        db.session.commit()
    return user


def make_vendor(code: str | None = None, secret: str = "vendor-secret") -> Vendor:
    vendor = Vendor(code=code or f"v{n()}", name="安居物联", secret_enc=privacy.encrypt(secret))
    db.session.add(vendor)
    db.session.commit()
    return vendor


def make_device(elder: Elder, vendor: Vendor, kind: str = "smoke", *, vendor_ref: str | None = None,
                installed_at: datetime | None = None, **values) -> Device:
    device = Device(elder_id=elder.id, vendor_id=vendor.id, vendor_ref=vendor_ref or f"{kind}-{n()}", kind=kind,
                    installed_at=installed_at or clock.now(), **values)
    db.session.add(device)
    db.session.commit()
    return device
