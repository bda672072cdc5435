"""The platform floors, measured in the same run:

* the framework floor — ``GET /healthz`` (routing, flask-smorest response
  schema, error/idempotency hooks, no database);
* the authenticated floor — ``GET /api/v1/me`` with a valid access token
  (JWT verification, the revocation check, loading the actor, the profile).

Goal (platform issue): the authenticated floor is at least 35% of the
framework floor in requests/s (median of the per-round ratios). Later domains
report their endpoints as a ratio of the authenticated floor (``ctx.auth_floor``).
"""
from __future__ import annotations

import secrets

from bench import Benchmark, register
from bench.http import Target, report, simple_get

GOAL = 0.35


def setup(app, state):
    """A resident as the mini-app sees one after binding a phone: a user with a profile (name and an
    encrypted phone), no granted roles, and an access token minted with the server's secrets."""
    from api.security import issue_tokens
    from models.base import db
    from models.people import ResidentProfile, User
    from service import people, privacy

    user = User(username=f"bench-{secrets.token_hex(6)}", nickname="压测居民")
    db.session.add(user)
    db.session.flush()
    phone = "13800138000"
    db.session.add(ResidentProfile(user_id=user.id, name="张三", phone_enc=privacy.encrypt(phone),
                                   phone_hash=privacy.lookup_hash(phone), phone_verified=True))
    db.session.commit()
    tokens = issue_tokens(user.id, people.token_roles(people.load_actor(user.id)), second_factor=True)
    db.session.rollback()
    return {"platform.user_id": user.id, "platform.token": tokens["access_token"]}


def run(ctx):
    healthz = Target.get("/healthz")
    me = Target.get("/api/v1/me", token=ctx.state["platform.token"])
    status, body = simple_get(ctx.port, me.path, me.headers)
    if status != 200:
        raise RuntimeError(f"GET /api/v1/me answered {status} before the run: {body[:300]!r}")
    ctx.floors.update({"healthz": healthz, "me": me})
    m = ctx.measure({"healthz": healthz, "me": me})
    return report(m, {"me/healthz": m.ratio("me", "healthz")}, goals={"me/healthz": GOAL})


register(Benchmark("platform", run=run, setup=setup, order=0,
                   description="framework floor (GET /healthz) and authenticated floor (GET /api/v1/me)"))
