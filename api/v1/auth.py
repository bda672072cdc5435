"""Login with WeChat, refresh, logout and the demo login."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_jwt_extended import get_jwt, get_jwt_identity, verify_jwt_in_request

from api.docs import errors, requires_token
from api.extensions import Blueprint
from api.schemas.auth import (TOKENS_EXAMPLE, CodeIn, DemoLoginIn, DemoUsersOut, LogoutOut, TokensOut,
                              WeChatLoginIn)
from api.security import auth_required, current_actor, tokens_for
from service import auth, people, second_factor
from service.errors import NotFound
from service.platform_errors import AccountGone

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="Login and tokens")


@blp.route("/wechat")
class WeChatLogin(MethodView):
    @blp.arguments(WeChatLoginIn)
    @blp.response(200, TokensOut, example=TOKENS_EXAMPLE)
    @errors(blp, 400, 403, 429, 502, 503)
    def post(self, data):
        """Log in with a wx.login code

        Exchanges the code at WeChat's jscode2session; a first login creates an
        unverified resident. The WeChat session key never leaves the server.
        """
        user = people.login_wechat(current_app.extensions["wechat"], data["code"])
        return tokens_for(user.id)


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.response(200, TokensOut, example=TOKENS_EXAMPLE)
    @errors(blp, 401, 429)
    @requires_token
    def post(self):
        """Exchange a refresh token for a new pair

        Send the refresh token as the bearer token. The old refresh token is
        revoked (rotation), so each one works once; the new pair belongs to the
        same session, which logout ends as a whole.
        """
        verify_jwt_in_request(refresh=True)
        claims = get_jwt()
        user_id = int(get_jwt_identity())
        # The account is active and neither the token nor its session is revoked (one query, or Redis).
        if people.load_caller(user_id, token_id=claims["jti"], session_id=claims.get("sid")) is None:
            raise AccountGone()
        auth.spend_refresh_token(claims)
        # A pair issued after the second factor keeps it while the authenticator stays (an admin may reset it).
        kept = bool(claims.get("mfa")) and second_factor.enrolled(user_id)
        return tokens_for(user_id, claims.get("sid"), second_factor=kept)


@blp.route("/second-factor")
class SecondFactorSignIn(MethodView):
    @blp.arguments(CodeIn, example={"code": "492039"})
    @blp.response(200, TokensOut, example=TOKENS_EXAMPLE)
    @errors(blp, 401, 409, 422, 429)
    @auth_required()
    def post(self, data):
        """Prove the second factor: a new pair with every role

        Send the access token of the login and the code the authenticator shows (or an unused recovery
        code). The new pair belongs to the same session and carries the roles that need the second factor;
        its refresh keeps them. Five wrong codes in a row lock the factor for fifteen minutes (429).
        """
        actor = current_actor()
        second_factor.verify(actor, data["code"])
        return tokens_for(actor.user_id, get_jwt().get("sid"), second_factor=True)


@blp.route("/logout")
class Logout(MethodView):
    @blp.response(200, LogoutOut, example={"revoked": 1})
    @errors(blp, 401, 429)
    @auth_required()
    def post(self):
        """Log out

        Ends the session: every access and refresh token descended from the
        same login (whichever of them is sent) is refused from now on; the
        revocation survives a restart.
        """
        return {"revoked": auth.logout(get_jwt(), current_app.config["JWT_REFRESH_TOKEN_EXPIRES"])}


def _demo_enabled() -> None:
    if not current_app.config.get("DEMO_LOGIN"):
        raise NotFound()


@blp.route("/demo/users")
class DemoUsers(MethodView):
    @blp.response(200, DemoUsersOut, example={"items": [{"username": "resident.demo", "nickname": "王阿姨（居民）",
                                                          "roles": ["resident"], "description": "万里街道居民"}]})
    @errors(blp, 404)
    def get(self):
        """List the demo accounts (demo mode only)

        Answers 404 unless the demo login is enabled.
        """
        _demo_enabled()
        items = []
        for user in people.list_demo_users():
            actor = people.load_actor(user.id)
            items.append({"username": user.username, "nickname": user.nickname,
                          "roles": people.token_roles(actor),
                          "description": "; ".join(
                              f"{r['role']}: " + ", ".join(s["name"] or str(s["id"]) for s in r["scopes"])
                              for r in people.describe_roles(actor) if r["scopes"]) or None})
        return {"items": items}


@blp.route("/demo")
class DemoLogin(MethodView):
    @blp.arguments(DemoLoginIn)
    @blp.response(200, TokensOut, example=TOKENS_EXAMPLE)
    @errors(blp, 404, 429)
    def post(self, data):
        """Log in as a demo account (demo mode only)

        Answers 404 unless the demo login is enabled.
        """
        _demo_enabled()
        user = people.login_demo(data["username"])
        return tokens_for(user.id)
