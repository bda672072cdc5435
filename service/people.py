"""People: who is acting (roles and scopes), WeChat login, the resident's own
profile, phone binding, verification of residents by 居委会 staff, unit
(ownership) claims and family links.

Verified data only decides money, votes and care. A resident edits their
contact details (name, address; the phone through WeChat) directly; a birth
date or neighbourhood they type is stored as declared and an ID number they
type is stored unverified: none of these counts for anything (meal
eligibility, tiers, delivery, priority, statements, a proxy's identity in
voting, staff authority over them) until 居委会 staff covering their declared
or verified neighbourhood check a document and record it with
``verify_resident`` (who and when on the profile, before/after in the audit
log). The birth date in an ID number counts once the ID number is verified;
typing a different one ends that verification. Staff of a declared
neighbourhood may see and verify the resident; acting for them (booking,
meal cards, deciding family links) follows the verified neighbourhood.

Nobody decides a request they made: a staff member cannot confirm a family
link they asked for, approve their own unit claim or verify themself. When a
staff or admin role is revoked, links its holder confirmed for themself
(possible before this rule) go back to pending; links they confirmed for
others stay, because the relationship they checked in office does not change
when they leave it. Access to personal data through a role is computed from
the roles held at each request, so it ends with the role.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from models.base import db
from models.people import (GRANTED_ROLES, ROLE_SCOPES, SCOPE_TYPES, FamilyLink, ResidentProfile, RoleAssignment,
                           UnitClaim, User, WeChatAccount)
from models.system import RevokedToken
from models.places import Building, Estate, Neighbourhood, Owner, Ownership, Street, Unit, estate_neighbourhood
from models.privacy import MINOR_GUARDIAN, Consent
from service import audit, auth, clock, labels, places, privacy, registry
from service import second_factor as second_factor_rules
from service.db import add_unique, keep_read_open, paginate, transactional
from service.errors import DomainError, Forbidden, NothingToChange
from service.platform_errors import (AccountDisabled, BirthDateDiffersFromIdNumber,
                                     BirthDateDiffersFromVerifiedIdNumber, BirthDateInFuture, BirthDateTooEarly,
                                     ClaimDecided, ClaimNotFound, ClaimOutOfScope, ClaimPending, ClaimSelfDecide,
                                     DemoUserUnknown, ElderNotFound, IdNumberBirthDateImplausible, IdNumberInvalid,
                                     LinkDecided, LinkExists, LinkInactive, LinkNotFound, LinkSelf, LinkSelfConfirm,
                                     MinorNeedsGuardianConsent,
                                     NeighbourhoodOutOfScope, NeighbourhoodUnknown, NothingToVerify, OutOfScope,
                                     OwnerAlreadyVerified, RejectionReasonMissing, ResidentNotFound,
                                     ResidentNotInScope, RoleExists, RoleNotFound, RoleNotGrantable, ScopeNotFound,
                                     ScopeUnfitForRole, SecondFactorUnknown, TokenRevoked, UnitHeldBySeveral,
                                     UnitIdUnknown, UnitNotFound, UnitNotInNeighbourhood, UserUnknown, VerifySelf,
                                     WeChatCodeInvalid, WeChatCodeUsed, WeChatFailed, WeChatNoOpenid, WeChatNoPhone,
                                     WeChatPhoneCodeInvalid, WeChatRateLimited, WeChatUnavailable, WeChatUserBlocked)
from service.wechat import WeChatClient, WeChatError



@functools.cache
def role_scopes() -> dict[str, tuple[str, ...]]:
    """Every role that can be granted, with the scope types it may carry: the platform's and the domains'."""
    return registry.role_scopes(ROLE_SCOPES)


def granted_roles() -> tuple[str, ...]:
    """The roles that can be granted: staff, the domains' roles, then the estate's committee and admins."""
    added = tuple(role for role in role_scopes() if role not in GRANTED_ROLES)
    return GRANTED_ROLES[:1] + added + GRANTED_ROLES[1:]


def scope_types() -> tuple[str, ...]:
    return registry.scope_types(SCOPE_TYPES)


@functools.cache
def role_rank() -> tuple[str, ...]:
    """The order used to pick the role an action is audited under: admin, staff, the domains' roles,
    committee, owner, resident."""
    added = tuple(role for role in role_scopes() if role not in GRANTED_ROLES)
    return ("admin", "staff", *added, "committee", "owner", "resident")


@dataclass
class Actor:
    """The authenticated user with their roles and the places each role covers."""

    user_id: int
    roles: set[str]
    scopes: dict[str, set[tuple[str, int]]] = field(default_factory=dict)
    # Streets fully covered by a staff member's or admin's scope (district scopes expanded).
    street_ids: set[int] = field(default_factory=set)
    # Neighbourhoods a staff or admin role names itself (not through a street).
    own_neighbourhood_ids: set[int] = field(default_factory=set)
    # Of those, where the actor may approve (居委会主任 "nc_head", admins).
    own_supervised_ids: set[int] = field(default_factory=set)
    owner_estate_ids: set[int] = field(default_factory=set)
    ip: str | None = None
    user: User | None = field(default=None, repr=False, compare=False)
    _street_neighbourhoods: set[int] | None = field(default=None, repr=False, compare=False)
    # Roles the person holds that this token leaves out: it was issued without the second factor.
    withheld_roles: set[str] = field(default_factory=set)

    # The streets' neighbourhoods are read the first time a check needs them, once per actor (a request):
    # a street's staff member whose request asks by street (its queue, its metrics) never reads them.
    @property
    def street_neighbourhood_ids(self) -> set[int]:
        """Neighbourhoods that lie in the actor's streets."""
        if self._street_neighbourhoods is None:
            self._street_neighbourhoods = set(db.session.connection().execute(
                _STREET_NEIGHBOURHOODS, {"ids": sorted(self.street_ids)}).scalars()) if self.street_ids else set()
        return self._street_neighbourhoods

    @property
    def neighbourhood_ids(self) -> set[int]:
        """Neighbourhoods a staff member or admin oversees (their streets' included)."""
        return self.own_neighbourhood_ids | self.street_neighbourhood_ids if self.street_ids \
            else self.own_neighbourhood_ids

    @property
    def supervised_neighbourhood_ids(self) -> set[int]:
        """Neighbourhoods where the actor may approve (居委会主任 "nc_head", street staff, admins)."""
        return self.own_supervised_ids | self.street_neighbourhood_ids if self.street_ids \
            else self.own_supervised_ids

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_staff(self) -> bool:
        return "staff" in self.roles or self.is_admin

    @property
    def acting_role(self) -> str:
        return next((r for r in role_rank() if r in self.roles), "resident")

    def scope_ids(self, role: str, scope_type: str) -> set[int]:
        return {sid for st, sid in self.scopes.get(role, set()) if st == scope_type}

    def covers_neighbourhood(self, neighbourhood_id: int | None) -> bool:
        return neighbourhood_id is not None and neighbourhood_id in self.neighbourhood_ids

    def covers_unit(self, unit: Unit) -> bool:
        return bool(unit_neighbourhood_ids(unit) & self.neighbourhood_ids)

    def admin_reach(self) -> tuple[set[int], set[int]]:
        """The districts and the streets the actor administers, from their admin roles alone (staff roles
        widen nothing here): a district admin's streets are every street of their districts."""
        districts = self.scope_ids("admin", "district")
        streets = self.scope_ids("admin", "street")
        if districts:
            streets |= set(db.session.connection().execute(_DISTRICT_STREETS, {"ids": sorted(districts)})
                           .scalars())
        return districts, streets


_IS_OWNER = sa.exists().where(Ownership.owner_id == Owner.id, Owner.user_id == User.id, Ownership.ended_on.is_(None))
_ACTOR = (sa.select(User, _IS_OWNER, sa.false()).options(joinedload(User.roles), joinedload(User.profile))
          .where(User.id == sa.bindparam("user_id")))
# Revoked: the token (its jti) or its session ("sid:<sid>"), one index probe each (service.auth.revocation_keys).
_IS_REVOKED = sa.exists().where(RevokedToken.jti.in_([sa.bindparam("jti"), sa.bindparam("sid")]))
_ACTOR_AND_REVOKED = (sa.select(User, _IS_OWNER, _IS_REVOKED)
                      .options(joinedload(User.roles), joinedload(User.profile))
                      .where(User.id == sa.bindparam("user_id")))
_CALLER = sa.select(User.id, sa.false()).where(User.id == sa.bindparam("user_id"), User.is_active.is_(True))
_CALLER_AND_REVOKED = (sa.select(User.id, _IS_REVOKED)
                       .where(User.id == sa.bindparam("user_id"), User.is_active.is_(True)))
_OWNER_ESTATES = (sa.select(Unit.estate_id).join(Ownership, Ownership.unit_id == Unit.id)
                  .join(Owner, Owner.id == Ownership.owner_id)
                  .where(Owner.user_id == sa.bindparam("user_id"), Ownership.ended_on.is_(None)).distinct())


_DISTRICT_STREETS = sa.select(Street.id).where(Street.district_id.in_(sa.bindparam("ids", expanding=True)))
_STREET_NEIGHBOURHOODS = sa.select(Neighbourhood.id).where(Neighbourhood.street_id.in_(sa.bindparam("ids", expanding=True)))


def load_actor(user_id: int, ip: str | None = None, *, token_id: str | None = None,
               session_id: str | None = None, second_factor: bool | None = None) -> Actor | None:
    """The active user with roles and scopes, or None. With ``token_id``, a revoked token or a token of
    a revoked session (``session_id``) raises Unauthorized; the check rides on the same query (revocations live
    in the database). ``second_factor`` False (a token issued without it) leaves out the roles that need it
    (service.second_factor); they are in ``withheld_roles``."""
    checked = token_id is not None
    params = {"user_id": user_id, **auth.revocation_keys(token_id, session_id)} if checked else {"user_id": user_id}
    row = db.session.execute(_ACTOR_AND_REVOKED if checked else _ACTOR, params).unique().first()
    user, is_owner, revoked = row if row else (None, False, False)
    if revoked:
        raise TokenRevoked()
    if user is None or not user.is_active:
        return None
    actor = Actor(user_id=user.id, roles={"resident"}, ip=ip, user=user)
    streets: set[int] = set()
    districts: set[int] = set()
    assignments = user.roles
    if second_factor is False and assignments:
        actor.withheld_roles = second_factor_rules.withheld({a.role for a in assignments}, user.is_demo)
        if actor.withheld_roles:
            assignments = [a for a in assignments if a.role not in actor.withheld_roles]
    for assignment in assignments:
        actor.roles.add(assignment.role)
        actor.scopes.setdefault(assignment.role, set()).add((assignment.scope_type, assignment.scope_id))
        if assignment.role in ("staff", "admin"):
            if assignment.scope_type == "neighbourhood":
                actor.own_neighbourhood_ids.add(assignment.scope_id)
                if assignment.role == "admin" or assignment.title == "nc_head":
                    actor.own_supervised_ids.add(assignment.scope_id)
            elif assignment.scope_type == "street":
                streets.add(assignment.scope_id)
            elif assignment.scope_type == "district":
                districts.add(assignment.scope_id)
    if districts:
        # A Core statement built once (staff load on every request): the streets of the districts.
        streets |= set(db.session.connection().execute(_DISTRICT_STREETS, {"ids": sorted(districts)}).scalars())
    actor.street_ids = streets
    actor.owner_estate_ids = owner_estates(user.id) if is_owner else set()
    if actor.owner_estate_ids:
        actor.roles.add("owner")
    return actor


def load_caller(user_id: int, ip: str | None = None, *, token_id: str | None = None,
                session_id: str | None = None) -> Actor | None:
    """Only who is calling: the active user whose token (and session) is not revoked, in one Core
    statement, with no roles or scopes (every scope check on this actor denies). For use-cases that
    decide by their own data alone, such as an owner's ballot, which the motion's frozen electorate
    admits or refuses. Its read stays open for the use-case's own reads (service.db.keep_read_open)."""
    keep_read_open()
    checked = token_id is not None
    row = db.session.connection().execute(_CALLER_AND_REVOKED if checked else _CALLER,
                                          {"user_id": user_id, **auth.revocation_keys(token_id, session_id)}
                                          if checked else {"user_id": user_id}).first()
    if checked and row is not None and row[1]:
        raise TokenRevoked()
    return Actor(user_id=row[0], roles={"resident"}, ip=ip) if row else None


def role_holders(role: str, scope_type: str, scope_ids) -> list[int]:
    """Who holds ``role`` on any of these places (the staff of some neighbourhoods, an estate's committee), by
    user id, each once."""
    ids = sorted(set(scope_ids))
    if not ids:
        return []
    return list(db.session.execute(sa.select(RoleAssignment.user_id).where(
        RoleAssignment.role == role, RoleAssignment.scope_type == scope_type, RoleAssignment.scope_id.in_(ids))
        .distinct().order_by(RoleAssignment.user_id)).scalars())


def owner_estates(user_id: int) -> set[int]:
    """Estates where the user holds a current, verified ownership."""
    return set(db.session.connection().execute(_OWNER_ESTATES, {"user_id": user_id}).scalars())


def token_roles(actor: Actor) -> list[str]:
    return sorted(actor.roles, key=role_rank().index)


def unit_neighbourhood_ids(unit: Unit) -> set[int]:
    """The 居委会 responsible for a unit: its building's, else every one of its estate's."""
    building_nid = db.session.execute(sa.select(Building.neighbourhood_id)
                                      .where(Building.id == unit.building_id)).scalar()
    if building_nid is not None:
        return {building_nid}
    return set(db.session.execute(sa.select(estate_neighbourhood.c.neighbourhood_id)
                                  .where(estate_neighbourhood.c.estate_id == unit.estate_id)).scalars())


# Where people's objects lie (audit entries are placed by them): a resident where their profile's
# neighbourhood is (the declared one until staff verify it: its staff see and verify them), a family link
# where its elder lives (likewise), a unit claim where the unit's estate is.
_RESIDENT_STREET = (sa.select(Neighbourhood.street_id).select_from(User)
                    .outerjoin(ResidentProfile, ResidentProfile.user_id == User.id)
                    .outerjoin(Neighbourhood, Neighbourhood.id == sa.func.coalesce(
                        ResidentProfile.neighbourhood_id, ResidentProfile.declared_neighbourhood_id)))
places.register_locator("user", _RESIDENT_STREET.where(User.id == sa.bindparam("id")))
places.register_locator("family_link", sa.select(Neighbourhood.street_id).select_from(FamilyLink)
                        .outerjoin(ResidentProfile, ResidentProfile.user_id == FamilyLink.elder_user_id)
                        .outerjoin(Neighbourhood, Neighbourhood.id == sa.func.coalesce(
                            ResidentProfile.neighbourhood_id, ResidentProfile.declared_neighbourhood_id))
                        .where(FamilyLink.id == sa.bindparam("id")))
places.register_locator("unit_claim", sa.select(Estate.street_id).select_from(UnitClaim)
                        .join(Unit, Unit.id == UnitClaim.unit_id).join(Estate, Estate.id == Unit.estate_id)
                        .where(UnitClaim.id == sa.bindparam("id")))


# --- login -------------------------------------------------------------------------------------------

WECHAT_ERRORS = {40029: WeChatCodeInvalid, 40163: WeChatCodeUsed, 45011: WeChatRateLimited,
                 40226: WeChatUserBlocked}
PHONE_CODE_ERRORS = (40029, 40163)  # for a getPhoneNumber code: WeChatPhoneCodeInvalid


def wechat_error(exc: WeChatError, *, phone: bool = False) -> DomainError:
    """Translate a WeChat failure into a clear 4xx/5xx domain error."""
    if phone and exc.errcode in PHONE_CODE_ERRORS:
        return WeChatPhoneCodeInvalid()
    if exc.errcode in WECHAT_ERRORS:
        return WECHAT_ERRORS[exc.errcode]()
    if exc.errcode is None or exc.errcode == -1:
        return WeChatUnavailable()
    return WeChatFailed()


@transactional
def login_wechat(client: WeChatClient, code: str) -> User:
    """Exchange a wx.login code and upsert the WeChat account; a first login creates a resident."""
    try:
        session = client.code2session(code)
    except WeChatError as exc:
        raise wechat_error(exc) from None
    openid = session.get("openid")
    if not openid:
        raise WeChatNoOpenid()
    account = db.session.execute(sa.select(WeChatAccount).where(
        WeChatAccount.appid == client.appid, WeChatAccount.openid == openid)).scalar_one_or_none()
    if account is None:
        try:
            with db.session.begin_nested():
                user = User()
                db.session.add(user)
                db.session.flush()
                account = WeChatAccount(user_id=user.id, appid=client.appid, openid=openid,
                                        unionid=session.get("unionid"))
                db.session.add(account)
        except sa.exc.IntegrityError:
            # The same openid logged in twice at once: use the account the other request created.
            account = db.session.execute(sa.select(WeChatAccount).where(
                WeChatAccount.appid == client.appid, WeChatAccount.openid == openid)).scalar_one()
    elif session.get("unionid") and account.unionid != session.get("unionid"):
        account.unionid = session.get("unionid")
    user = db.session.get(User, account.user_id)
    if not user.is_active:
        raise AccountDisabled()
    user.last_login_at = clock.now()
    return user


def list_demo_users() -> list[User]:
    return list(db.session.execute(sa.select(User).where(User.is_demo.is_(True)).order_by(User.username)).scalars())


@transactional
def login_demo(username: str) -> User:
    user = db.session.execute(sa.select(User).where(User.username == username, User.is_demo.is_(True))
                              ).scalar_one_or_none()
    if user is None:
        raise DemoUserUnknown()
    user.last_login_at = clock.now()
    return user


# --- the resident's own profile -----------------------------------------------------------------------

def describe_roles(actor: Actor) -> list[dict]:
    """Roles with their scopes, named, for /me."""
    result = []
    names = _scope_names(actor)
    for role in token_roles(actor):
        if role == "owner":
            scopes = [{"type": "estate", "id": eid, "name": names.get(("estate", eid))}
                      for eid in sorted(actor.owner_estate_ids)]
        else:
            scopes = [{"type": st, "id": sid, "name": names.get((st, sid))}
                      for st, sid in sorted(actor.scopes.get(role, set()))]
        result.append({"role": role, "scopes": scopes})
    return result


def _scope_names(actor: Actor) -> dict[tuple[str, int], str]:
    from models.places import District

    wanted: dict[str, set[int]] = {}
    for pairs in actor.scopes.values():
        for st, sid in pairs:
            wanted.setdefault(st, set()).add(sid)
    wanted.setdefault("estate", set()).update(actor.owner_estate_ids)
    tables = {"district": District, "street": Street, "neighbourhood": Neighbourhood, "estate": Estate}
    names = {}
    for st, ids in wanted.items():
        model = tables.get(st)
        if model is None or not ids:
            continue
        for row in db.session.execute(sa.select(model.id, model.name).where(model.id.in_(ids))):
            names[(st, row.id)] = row.name
    return names  # a domain's scope (a meal site) is shown by type and id


def covers_resident(actor: Actor, profile: ResidentProfile | None, *, declared: bool = False) -> bool:
    """Staff whose scope holds the resident's verified neighbourhood (or, with ``declared``, the one they
    typed: that 居委会 is who verifies them)."""
    if profile is None or not actor.is_staff:
        return False
    if actor.covers_neighbourhood(profile.neighbourhood_id):
        return True
    return declared and actor.covers_neighbourhood(profile.declared_neighbourhood_id)


def _check(status: str, by: int | None, at) -> dict:
    return {"status": status, "verified_by": by if status == "verified" else None,
            "verified_at": at if status == "verified" else None}


def verification_of(profile: ResidentProfile) -> dict:
    """What of the resident's identity, birth date and residence is verified (with who and when), pending
    (declared, awaiting 居委会 verification) or missing."""
    id_pending = profile.id_number_hash is not None and profile.id_verified_at is None
    identity = "verified" if profile.id_verified_at else "pending" if id_pending else "missing"
    birth = ("pending" if profile.declared_birth_date is not None or (profile.birth_date is None and id_pending)
             else "verified" if profile.birth_date is not None else "missing")
    residence = ("pending" if profile.declared_neighbourhood_id is not None
                 else "verified" if profile.neighbourhood_id is not None or profile.unit_id is not None else "missing")
    return {"identity": _check(identity, profile.id_verified_by, profile.id_verified_at),
            "birth_date": _check(birth, profile.birth_date_verified_by, profile.birth_date_verified_at),
            "residence": _check(residence, profile.residence_verified_by, profile.residence_verified_at)}


_NOTHING = {"status": "missing", "verified_by": None, "verified_at": None}


def present_profile(profile: ResidentProfile | None, viewer: Actor | None, *, subject_user_id: int,
                    relative: bool = False) -> dict:
    """A resident's personal data as ``viewer`` may see it.

    The resident themself, a confirmed relative acting for them (``relative``)
    and staff covering their verified or declared neighbourhood see name and
    phone; everyone else sees them masked. The ID number is always masked.
    ``birth_date``, ``neighbourhood_id`` and ``unit_id`` are the verified
    values; ``declared_*`` what the resident typed, awaiting verification.
    """
    if profile is None:
        return {"name": None, "phone": None, "phone_verified": False, "id_number": None, "birth_date": None,
                "neighbourhood_id": None, "unit_id": None, "address": None, "declared_birth_date": None,
                "declared_neighbourhood_id": None,
                "verification": {k: dict(_NOTHING) for k in ("identity", "birth_date", "residence")}}
    phone = privacy.decrypt(profile.phone_enc)
    id_number = privacy.decrypt(profile.id_number_enc)
    own = viewer is not None and viewer.user_id == subject_user_id
    staff = viewer is not None and covers_resident(viewer, profile, declared=True)
    full = own or staff or relative
    return {
        "name": profile.name if full else privacy.mask_name(profile.name),
        "phone": phone if full else privacy.mask_phone(phone),
        "phone_verified": profile.phone_verified,
        "id_number": privacy.mask_id_number(id_number),
        "birth_date": profile.birth_date if full else None,
        "neighbourhood_id": profile.neighbourhood_id,
        "unit_id": profile.unit_id if full else None,
        "address": profile.address if full else None,
        "declared_birth_date": profile.declared_birth_date if full else None,
        "declared_neighbourhood_id": profile.declared_neighbourhood_id if full else None,
        "verification": verification_of(profile),
    }


def me(actor: Actor, lang: str = "zh") -> dict:
    """The caller's account, JSON-ready with its labels (it is sent as it is, without a schema)."""
    user = actor.user if actor.user is not None else db.session.get(User, actor.user_id)
    roles = [labels.attach({**role, "scopes": [labels.attach(dict(scope), "people", ("type",), lang)
                                               for scope in role["scopes"]]}, "people", ("role",), lang)
             for role in describe_roles(actor)]
    profile = present_profile(user.profile, actor, subject_user_id=user.id)
    profile["verification"] = {part: labels.attach({**check, "verified_at": clock.local(check["verified_at"])},
                                                   "people", ("status",), lang)
                               for part, check in profile["verification"].items()}
    return {
        "id": user.id,
        "username": user.username,
        "nickname": user.nickname,
        "verified": bool(user.profile and user.profile.phone_verified),
        "roles": roles,
        "profile": profile,
        "created_at": clock.local(user.created_at),
    }


def _profile(user_id: int) -> ResidentProfile:
    """The user's profile (created empty if missing), locked for the use-case that changes it: a resident's
    edit and a staff verification of the same profile never interleave."""
    profile = db.session.get(ResidentProfile, user_id, with_for_update=True, populate_existing=True)
    if profile is None:
        profile = ResidentProfile(user_id=user_id)
        db.session.add(profile)
    return profile


def valid_id_number(number: str) -> bool:
    """Mainland resident ID: 18 characters with the ISO 7064 MOD 11-2 check digit and a real birth date."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(number[:17], weights))
    return "10X98765432"[total % 11] == number[17].upper() and birth_date_from_id(number) is not None


def birth_date_from_id(number: str | None) -> date | None:
    """The birth date an 18-character ID number carries (digits 7–14), or None."""
    if not number or len(number) != 18 or not number[6:14].isdigit():
        return None
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def check_birth_date(field_name: str, born: date) -> None:
    """A birth date from 1900-01-01 to today (Asia/Shanghai); anything else is a 422 naming the field."""
    if born < EARLIEST_BIRTH_DATE:
        raise BirthDateTooEarly(field_name)
    if born > clock.local_now().date():
        raise BirthDateInFuture(field_name)


# 个人信息保护法 Art. 28, 31: the personal data of a child under 14 is sensitive and is processed only with a
# parent's or guardian's consent.
MINOR_AGE = 14
_GUARDIAN_CONSENTED = sa.select(sa.exists().where(Consent.user_id == sa.bindparam("user_id"),
                                                  Consent.purpose == MINOR_GUARDIAN, Consent.withdrawn_at.is_(None)))


def check_minor(user_id: int, born: date | None) -> None:
    """A birth date (typed, or carried by an ID number) of someone under 14 is recorded only once their
    guardian consented (purpose ``minor_guardian``, recorded by staff from the signed form)."""
    if born is None or resident_age(born, clock.local_now().date()) >= MINOR_AGE:
        return
    if not db.session.execute(_GUARDIAN_CONSENTED, {"user_id": user_id}).scalar():
        raise MinorNeedsGuardianConsent()


def _checked_id_number(raw: str) -> str:
    number = raw.strip().upper()
    if not valid_id_number(number):
        raise IdNumberInvalid()
    born = birth_date_from_id(number)
    if born < EARLIEST_BIRTH_DATE or born > clock.local_now().date():
        raise IdNumberBirthDateImplausible()
    return number


PROFILE_FIELDS = ("name", "birth_date", "id_number", "neighbourhood_id", "address")


@transactional
def update_profile(actor: Actor, changes: dict) -> dict:
    """The resident edits their own profile. Name and address change directly; a birth date or
    neighbourhood is stored as declared, an ID number as unverified (a different number than the one on
    file ends its verification and the birth date verified with it). Declared values count once 居委会
    staff verify them (``verify_resident``); typing the verified value again leaves nothing pending. A
    request with nothing to change is refused."""
    if not changes:
        raise NothingToChange(PROFILE_FIELDS)
    profile = _profile(actor.user_id)
    if changes.get("id_number") is not None:
        number = _checked_id_number(changes["id_number"])
        check_minor(actor.user_id, birth_date_from_id(number))
        digest = privacy.lookup_hash(number)
        if digest != profile.id_number_hash:
            profile.id_number_enc = privacy.encrypt(number)
            profile.id_number_hash = digest
            if profile.id_verified_at is not None:
                profile.id_verified_by = profile.id_verified_at = None
                profile.birth_date = profile.birth_date_verified_by = profile.birth_date_verified_at = None
    if changes.get("birth_date") is not None:
        born = changes["birth_date"]
        check_birth_date("birth_date", born)
        check_minor(actor.user_id, born)
        profile.declared_birth_date = None if born == profile.birth_date else born
    if "neighbourhood_id" in changes:
        neighbourhood_id = changes["neighbourhood_id"]
        if neighbourhood_id is not None and db.session.get(Neighbourhood, neighbourhood_id) is None:
            raise NeighbourhoodUnknown()
        profile.declared_neighbourhood_id = None if neighbourhood_id == profile.neighbourhood_id else neighbourhood_id
    for name in ("name", "address"):
        if name in changes:
            setattr(profile, name, changes[name])
    db.session.flush()
    return present_profile(profile, actor, subject_user_id=actor.user_id)


# --- verification by 居委会 staff -------------------------------------------------------------------------------

def _facts(profile: ResidentProfile) -> dict:
    """What the audit log keeps of a verification: masked ID number, verified and declared values."""
    def iso(day: date | None) -> str | None:
        return day.isoformat() if day else None

    return {"id_number": privacy.mask_id_number(privacy.decrypt(profile.id_number_enc)),
            "id_verified": profile.id_verified_at is not None, "birth_date": iso(profile.birth_date),
            "declared_birth_date": iso(profile.declared_birth_date), "neighbourhood_id": profile.neighbourhood_id,
            "declared_neighbourhood_id": profile.declared_neighbourhood_id, "unit_id": profile.unit_id}


@transactional
def verify_resident(actor: Actor, user_id: int, *, documents: list[str], id_number: str | None = None,
                    birth_date: date | None = None, neighbourhood_id: int | None = None,
                    unit_id: int | None = None, note: str | None = None) -> dict:
    """居委会 staff record what they checked against a document: the ID number (its birth date comes with
    it), a birth date, the neighbourhood and unit the resident lives in. Each becomes the verified value,
    stamped with who and when; the matching declared value is cleared. Staff covering the resident's
    verified or declared neighbourhood may verify, never themselves; residence only in their own scope.
    Audited with before and after."""
    if not actor.is_staff:
        raise Forbidden()
    profile = db.session.get(ResidentProfile, user_id, with_for_update=True, populate_existing=True)
    if profile is None or not (covers_resident(actor, profile, declared=True)
                               or (profile.unit_id is not None and actor.covers_unit(_unit(profile.unit_id)))):
        raise ResidentNotInScope()
    if actor.user_id == user_id:
        raise VerifySelf()
    if id_number is None and birth_date is None and neighbourhood_id is None and unit_id is None:
        raise NothingToVerify()
    before = _facts(profile)
    now = clock.now()
    if id_number is not None:
        number = _checked_id_number(id_number)
        born = birth_date_from_id(number)
        if birth_date is not None and birth_date != born:
            raise BirthDateDiffersFromIdNumber()
        digest = privacy.lookup_hash(number)
        if digest != profile.id_number_hash:   # the card staff hold wins over what was typed
            profile.id_number_enc = privacy.encrypt(number)
            profile.id_number_hash = digest
        profile.id_verified_by, profile.id_verified_at = actor.user_id, now
        birth_date = born
    elif birth_date is not None and profile.id_verified_at is not None:
        if birth_date != birth_date_from_id(privacy.decrypt(profile.id_number_enc)):
            raise BirthDateDiffersFromVerifiedIdNumber()
    if birth_date is not None:
        check_birth_date("birth_date", birth_date)
        check_minor(user_id, birth_date)
        profile.birth_date = birth_date
        profile.birth_date_verified_by, profile.birth_date_verified_at = actor.user_id, now
        profile.declared_birth_date = None
    if neighbourhood_id is not None or unit_id is not None:
        _verify_residence(actor, profile, neighbourhood_id, unit_id, now)
    db.session.flush()
    audit.record(actor, "resident.verified", "user", user_id, before=before,
                 after={**_facts(profile), "documents": list(documents), "note": note})
    return {"id": user_id, "profile": present_profile(profile, actor, subject_user_id=user_id)}


def _verify_residence(actor: Actor, profile: ResidentProfile, neighbourhood_id: int | None, unit_id: int | None,
                      now) -> None:
    if neighbourhood_id is not None:
        if db.session.get(Neighbourhood, neighbourhood_id) is None:
            raise NeighbourhoodUnknown()
        if not actor.covers_neighbourhood(neighbourhood_id):
            raise NeighbourhoodOutOfScope()
    unit = None
    if unit_id is not None:
        unit = db.session.get(Unit, unit_id)
        if unit is None:
            raise UnitIdUnknown()
        held_by = unit_neighbourhood_ids(unit)
        if neighbourhood_id is None:
            if len(held_by) != 1:
                raise UnitHeldBySeveral()
            neighbourhood_id = next(iter(held_by))
            if not actor.covers_neighbourhood(neighbourhood_id):
                raise NeighbourhoodOutOfScope()
        elif neighbourhood_id not in held_by:
            raise UnitNotInNeighbourhood()
    elif profile.unit_id is not None and neighbourhood_id not in unit_neighbourhood_ids(_unit(profile.unit_id)):
        profile.unit_id = None   # moved: the unit on file is in another neighbourhood
    profile.neighbourhood_id = neighbourhood_id
    if unit is not None:
        profile.unit_id = unit.id
    profile.residence_verified_by, profile.residence_verified_at = actor.user_id, now
    profile.declared_neighbourhood_id = None


@transactional
def bind_phone(actor: Actor, client: WeChatClient, code: str) -> dict:
    """Bind the phone number from a getPhoneNumber code (called once, at binding: it is paid)."""
    try:
        info = client.get_phone_number(code)
    except WeChatError as exc:
        raise wechat_error(exc, phone=True) from None
    phone = info.get("purePhoneNumber") or info.get("phoneNumber")
    if not phone:
        raise WeChatNoPhone()
    profile = _profile(actor.user_id)
    profile.phone_enc = privacy.encrypt(phone)
    profile.phone_hash = privacy.lookup_hash(phone)
    profile.phone_verified = True
    db.session.flush()
    return present_profile(profile, actor, subject_user_id=actor.user_id)


# --- unit claims (owner verification) ----------------------------------------------------------------------

def _unit(unit_id: int) -> Unit:
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise UnitNotFound()
    return unit


@transactional
def create_unit_claim(actor: Actor, *, unit_id: int, certificate_no: str, owner_name: str) -> UnitClaim:
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise UnitIdUnknown()
    claim = UnitClaim(user_id=actor.user_id, unit_id=unit.id, certificate_no=certificate_no.strip(),
                      owner_name=owner_name.strip())
    return add_unique(claim, ClaimPending())


def register_match(claim: UnitClaim) -> Ownership | None:
    """The current register entry for the claimed unit with the same certificate number and name, if any."""
    return db.session.execute(
        sa.select(Ownership).join(Owner).where(
            Ownership.unit_id == claim.unit_id, Ownership.ended_on.is_(None),
            Ownership.certificate_no == claim.certificate_no, Owner.name == claim.owner_name)
    ).scalars().first()


def present_claim(actor: Actor, claim: UnitClaim) -> dict:
    """A claim as its viewer sees it; only staff learn whether it matches the register."""
    staff = actor.user_id != claim.user_id
    return {"id": claim.id, "user_id": claim.user_id, "unit_id": claim.unit_id,
            "certificate_no": claim.certificate_no, "owner_name": claim.owner_name, "status": claim.status,
            "reason": claim.reason, "created_at": claim.created_at, "decided_at": claim.decided_at,
            "register_match": (register_match(claim) is not None) if staff and claim.status == "pending" else None}


def get_unit_claim(actor: Actor, claim_id: int) -> UnitClaim:
    claim = db.session.get(UnitClaim, claim_id)
    if claim is None:
        raise ClaimNotFound()
    if claim.user_id != actor.user_id and not (actor.is_staff and actor.covers_unit(_unit(claim.unit_id))):
        raise ClaimNotFound()
    return claim


def list_unit_claims(actor: Actor, *, status: str | None, mine: bool, page: int, page_size: int):
    """Residents see their own claims; staff see the claims on units in their scope."""
    query = sa.select(UnitClaim)
    if mine or not actor.is_staff:
        query = query.where(UnitClaim.user_id == actor.user_id)
    else:
        in_scope = (sa.select(Unit.id).join(Building, Building.id == Unit.building_id)
                    .outerjoin(estate_neighbourhood, estate_neighbourhood.c.estate_id == Unit.estate_id)
                    .where(sa.or_(Building.neighbourhood_id.in_(actor.neighbourhood_ids),
                                  sa.and_(Building.neighbourhood_id.is_(None),
                                          estate_neighbourhood.c.neighbourhood_id.in_(actor.neighbourhood_ids)))))
        query = query.where(UnitClaim.unit_id.in_(in_scope))
    if status:
        query = query.where(UnitClaim.status == status)
    return paginate(query.order_by(UnitClaim.id.desc()), page, page_size)


@transactional
def decide_unit_claim(actor: Actor, claim_id: int, *, approve: bool, reason: str | None) -> UnitClaim:
    """Staff of the unit's neighbourhood approve (making the resident an owner) or reject with a reason;
    never their own claim."""
    claim = db.session.get(UnitClaim, claim_id)
    if claim is None:
        raise ClaimNotFound()
    if claim.user_id == actor.user_id:
        raise ClaimSelfDecide()
    unit = _unit(claim.unit_id)
    if not (actor.is_staff and actor.covers_unit(unit)):
        raise ClaimOutOfScope()
    if claim.status != "pending":
        raise ClaimDecided()
    if not approve and not (reason and reason.strip()):
        raise RejectionReasonMissing()
    before = {"status": claim.status}
    claim.status = "approved" if approve else "rejected"
    claim.decided_by = actor.user_id
    claim.decided_at = clock.now()
    claim.reason = reason
    if approve:
        ownership = register_match(claim)
        if ownership is None:
            # Staff have seen the certificate: enter the owner on the register.
            owner = Owner(kind="person", name=claim.owner_name, user_id=claim.user_id)
            db.session.add(owner)
            db.session.flush()
            has_voter = db.session.execute(sa.select(Ownership.id).where(
                Ownership.unit_id == unit.id, Ownership.is_designated_voter.is_(True),
                Ownership.ended_on.is_(None))).first() is not None
            ownership = Ownership(unit_id=unit.id, owner_id=owner.id, certificate_no=claim.certificate_no,
                                  is_designated_voter=not has_voter, since=clock.local_now().date())
            db.session.add(ownership)
            db.session.flush()
        else:
            owner = db.session.get(Owner, ownership.owner_id)
            if owner.user_id not in (None, claim.user_id):
                raise OwnerAlreadyVerified()
            owner.user_id = claim.user_id
        claim.ownership_id = ownership.id
    audit.record(actor, "unit_claim." + claim.status, "unit_claim", claim.id, before=before,
                 subject_user_id=claim.user_id, after={"status": claim.status, "reason": reason, "ownership_id": claim.ownership_id})
    return claim


# --- family links -----------------------------------------------------------------------------------------

@transactional
def request_family_link(actor: Actor, *, elder_name: str, elder_phone: str, relation: str) -> FamilyLink:
    """Ask to act for an elder relative, found by name and phone number on their resident profile."""
    elder = db.session.execute(sa.select(ResidentProfile).where(
        ResidentProfile.phone_hash == privacy.lookup_hash(elder_phone),
        ResidentProfile.name == elder_name.strip())).scalars().first()
    if elder is None:
        raise ElderNotFound()
    if elder.user_id == actor.user_id:
        raise LinkSelf()
    link = FamilyLink(proxy_user_id=actor.user_id, elder_user_id=elder.user_id, relation=relation)
    return add_unique(link, LinkExists())


def _link(link_id: int) -> FamilyLink:
    link = db.session.get(FamilyLink, link_id)
    if link is None:
        raise LinkNotFound()
    return link


def _elder_neighbourhood(user_id: int) -> int | None:
    profile = db.session.get(ResidentProfile, user_id)
    return profile.neighbourhood_id if profile else None


def _can_see_link(actor: Actor, link: FamilyLink) -> bool:
    return (actor.user_id in (link.proxy_user_id, link.elder_user_id)
            or (actor.is_staff and actor.covers_neighbourhood(_elder_neighbourhood(link.elder_user_id))))


def get_family_link(actor: Actor, link_id: int) -> FamilyLink:
    link = _link(link_id)
    if not _can_see_link(actor, link):
        raise LinkNotFound()
    return link


def list_family_links(actor: Actor, *, page: int, page_size: int):
    query = sa.select(FamilyLink).where(sa.or_(FamilyLink.proxy_user_id == actor.user_id,
                                               FamilyLink.elder_user_id == actor.user_id))
    return paginate(query.order_by(FamilyLink.id.desc()), page, page_size)


@transactional
def decide_family_link(actor: Actor, link_id: int, *, confirm: bool, reason: str | None) -> FamilyLink:
    """The elder, or staff covering the elder's verified neighbourhood, confirm or reject a pending link.
    The requester never decides it, whatever roles they hold."""
    link = _link(link_id)
    if actor.user_id == link.proxy_user_id:
        raise LinkSelfConfirm()
    is_elder = actor.user_id == link.elder_user_id
    is_staff = actor.is_staff and actor.covers_neighbourhood(_elder_neighbourhood(link.elder_user_id))
    if not (is_elder or is_staff):
        raise LinkNotFound()
    if link.status != "pending":
        raise LinkDecided()
    link.status = "confirmed" if confirm else "rejected"
    link.decided_by = actor.user_id
    link.decided_at = clock.now()
    link.reason = reason
    if is_staff and not is_elder:
        audit.record(actor, "family_link." + link.status, "family_link", link.id, subject_user_id=link.elder_user_id,
                     before={"status": "pending"}, after={"status": link.status, "reason": reason})
    return link


@transactional
def revoke_family_link(actor: Actor, link_id: int) -> FamilyLink:
    link = get_family_link(actor, link_id)
    if link.status not in ("pending", "confirmed"):
        raise LinkInactive()
    before = {"status": link.status}
    link.status = "revoked"
    link.decided_by = actor.user_id
    link.decided_at = clock.now()
    if actor.user_id not in (link.proxy_user_id, link.elder_user_id):
        audit.record(actor, "family_link.revoked", "family_link", link.id, before=before, after={"status": "revoked"},
                     subject_user_id=link.elder_user_id)
    return link


_ACTS_AS = sa.select(
    sa.exists().where(FamilyLink.proxy_user_id == sa.bindparam("actor_id"),
                      FamilyLink.elder_user_id == sa.bindparam("user_id"), FamilyLink.status == "confirmed"),
    sa.select(ResidentProfile.neighbourhood_id).where(ResidentProfile.user_id == sa.bindparam("user_id"))
    .scalar_subquery())


def acts_as(actor: Actor, user_id: int) -> str | None:
    """How the actor may act for this resident: ``"self"``, ``"family"`` (a confirmed relative), ``"staff"``
    (covering the resident's verified neighbourhood; a declared one gives no authority to act), or None when
    they may not. One query (none for oneself)."""
    if actor.user_id == user_id:
        return "self"
    family, neighbourhood_id = db.session.execute(_ACTS_AS, {"actor_id": actor.user_id, "user_id": user_id}).one()
    if family:
        return "family"
    return "staff" if actor.is_staff and actor.covers_neighbourhood(neighbourhood_id) else None


def may_act_for(actor: Actor, elder_user_id: int) -> bool:
    """Whether the actor may act for this resident: themself, a confirmed relative, or staff covering the
    resident's verified neighbourhood."""
    return acts_as(actor, elder_user_id) is not None


# --- residents as staff see them ------------------------------------------------------------------------------

def get_resident(actor: Actor, user_id: int) -> dict:
    """A resident's record for the resident themself, a confirmed relative or staff covering their verified
    or declared neighbourhood. Staff views are audited."""
    user = db.session.get(User, user_id)
    if user is None or not (covers_resident(actor, user.profile, declared=True) or may_act_for(actor, user_id)):
        raise ResidentNotFound()
    result = {"id": user.id, "profile": present_profile(user.profile, actor, subject_user_id=user.id, relative=True)}
    if actor.is_staff and actor.user_id != user_id:
        audit.record_view(actor, "resident.viewed", "user", user_id)
    return result


AWAITING_VERIFICATION = sa.or_(
    ResidentProfile.declared_birth_date.is_not(None), ResidentProfile.declared_neighbourhood_id.is_not(None),
    sa.and_(ResidentProfile.id_number_hash.is_not(None), ResidentProfile.id_verified_at.is_(None)))


def list_residents(actor: Actor, *, neighbourhood_id: int | None, page: int, page_size: int,
                   awaiting_verification: bool | None = None):
    """Staff list the residents whose verified or declared neighbourhood they cover; with
    ``awaiting_verification`` only those with a declared value or an unverified ID number (or only
    those without)."""
    if not actor.is_staff:
        raise Forbidden()
    ids = actor.neighbourhood_ids
    if neighbourhood_id is not None:
        if neighbourhood_id not in ids:
            raise NeighbourhoodOutOfScope()
        ids = {neighbourhood_id}
    query = sa.select(ResidentProfile).where(sa.or_(ResidentProfile.neighbourhood_id.in_(ids),
                                                    ResidentProfile.declared_neighbourhood_id.in_(ids)))
    if awaiting_verification is not None:
        query = query.where(AWAITING_VERIFICATION if awaiting_verification else sa.not_(AWAITING_VERIFICATION))
    return paginate(query.order_by(ResidentProfile.user_id), page, page_size)


# --- roles -------------------------------------------------------------------------------------------------------

@transactional
def grant_role(actor: Actor, *, user_id: int, role: str, scope_type: str, scope_id: int,
               title: str | None = None) -> RoleAssignment:
    """Admins grant staff, operator, committee and admin roles on an existing place within their own scope."""
    if not actor.is_admin:
        raise Forbidden()
    if role not in granted_roles():
        raise RoleNotGrantable()
    if scope_type not in role_scopes()[role]:
        raise ScopeUnfitForRole()
    if db.session.get(User, user_id) is None:
        raise UserUnknown()
    place = places.locate(scope_type, scope_id)
    if place is None:
        raise ScopeNotFound(scope_type=scope_type)
    _check_admin_covers(actor, scope_type, scope_id, place)
    assignment = add_unique(RoleAssignment(user_id=user_id, role=role, scope_type=scope_type, scope_id=scope_id,
                                           title=title, granted_by=actor.user_id),
                            RoleExists())
    audit.record(actor, "role.granted", "user", user_id, street_id=place.street_id,
                 after={"role": role, "scope_type": scope_type, "scope_id": scope_id, "title": title})
    return assignment


@transactional
def revoke_role(actor: Actor, assignment_id: int) -> None:
    """Admins revoke grants on places within their own scope; a grant whose place no longer exists
    is revoked by a district admin."""
    if not actor.is_admin:
        raise Forbidden()
    assignment = db.session.get(RoleAssignment, assignment_id)
    if assignment is None:
        raise RoleNotFound()
    place = places.locate(assignment.scope_type, assignment.scope_id)
    _check_admin_covers(actor, assignment.scope_type, assignment.scope_id, place)
    audit.record(actor, "role.revoked", "user", assignment.user_id, street_id=place.street_id if place else None,
                 before={"role": assignment.role, "scope_type": assignment.scope_type,
                         "scope_id": assignment.scope_id})
    db.session.delete(assignment)
    if assignment.role in ("staff", "admin"):
        reopen_self_confirmed_links(actor, assignment.user_id)


def reopen_self_confirmed_links(actor: Actor, user_id: int) -> int:
    """Links ``user_id`` confirmed for themself (as staff, before that was refused) go back to pending, so
    the elder or another staff member decides: leaving the role must not leave them a relative's access
    they granted themselves. Links they confirmed for others stand. Audited; the caller commits."""
    links = db.session.execute(sa.select(FamilyLink).where(
        FamilyLink.proxy_user_id == user_id, FamilyLink.decided_by == user_id,
        FamilyLink.status == "confirmed")).scalars().all()
    for link in links:
        before = {"status": link.status, "decided_by": link.decided_by,
                  "decided_at": clock.iso(link.decided_at), "reason": link.reason}
        link.status, link.decided_by, link.decided_at, link.reason = "pending", None, None, None
        audit.record(actor, "family_link.reopened", "family_link", link.id, before=before,
                     subject_user_id=link.elder_user_id,
                     after={"status": "pending", "why": "decided by its own requester"})
    return len(links)


def _check_admin_covers(actor: Actor, scope_type: str, scope_id: int, place: places.Place | None) -> None:
    """The scope lies inside the admin's own: a district scope is one of their districts, any other scope
    lies in one of their streets. A place that does not exist (a dangling grant) is a district admin's."""
    districts, streets = actor.admin_reach()
    if place is None:
        ok = bool(districts)
    elif scope_type == "district":
        ok = scope_id in districts
    else:
        ok = place.street_id is not None and place.street_id in streets
    if not ok:
        raise OutOfScope()


@transactional
def reset_second_factor(actor: Actor, user_id: int) -> None:
    """An administrator removes the authenticator of a colleague whose role lies in their scope (a lost phone):
    they set up a new one at their next sign-in. Audited; an admin cannot reset their own."""
    if not actor.is_admin or user_id == actor.user_id:
        raise Forbidden()
    if not _admin_covers_roles_of(actor, user_id):   # outside their scope: not theirs to see
        raise SecondFactorUnknown()
    second_factor_rules.remove(actor, user_id)


def _admin_covers_roles_of(actor: Actor, user_id: int) -> bool:
    """Whether one of the person's roles lies in the admin's scope."""
    for assignment in db.session.execute(sa.select(RoleAssignment).where(RoleAssignment.user_id == user_id)).scalars():
        try:
            _check_admin_covers(actor, assignment.scope_type, assignment.scope_id,
                                places.locate(assignment.scope_type, assignment.scope_id))
        except OutOfScope:
            continue
        return True
    return False


def resident_age(birth_date: date | None, on: date) -> int | None:
    if birth_date is None:
        return None
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))
