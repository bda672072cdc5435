"""The second factor of staff sign-in: set up an authenticator, see its state, and an admin's reset."""
from __future__ import annotations

from flask.views import MethodView
from flask_jwt_extended import get_jwt

from api.docs import errors
from api.extensions import Blueprint
from api.schemas.auth import TOKENS_EXAMPLE, CodeIn
from api.schemas.second_factor import SecondFactorConfirmedOut, SecondFactorStartOut, SecondFactorStatusOut
from api.schemas.common import id_in_path
from api.security import auth_required, current_actor, tokens_for
from service import people, second_factor

blp = Blueprint("second_factor", __name__, url_prefix="/api/v1",
                description="Staff sign-in's second factor (TOTP authenticator, recovery codes)")


@blp.route("/me/second-factor")
class MySecondFactor(MethodView):
    @blp.response(200, SecondFactorStatusOut, example={
        "required": True, "roles": ["staff"], "enrolled": True, "confirmed_at": "2026-12-01T09:00:00+08:00",
        "recovery_codes_left": 10, "verified": True})
    @errors(blp, 401)
    @auth_required()
    def get(self):
        """My second factor: whether my roles need it, whether it is set up, whether this token carries it"""
        return second_factor.status(current_actor(), verified=bool(get_jwt().get("mfa")))

    @blp.response(201, SecondFactorStartOut, example={
        "secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "qr_svg": "data:image/svg+xml;base64,PHN2Zy…",
        "otpauth_uri": "otpauth://totp/Linli%20%E9%82%BB%E9%87%8C:staff.demo?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
                       "&issuer=Linli%20%E9%82%BB%E9%87%8C&algorithm=SHA1&digits=6&period=30"})
    @errors(blp, 401, 403, 409, 429)
    @auth_required()
    def post(self):
        """Set up an authenticator: its secret and QR code

        For a person holding a role that needs the second factor. Scan the QR code (or type the secret) into
        an authenticator app, then confirm with its first code. A new call replaces a secret not yet
        confirmed; a confirmed one is replaced only after an administrator's reset.
        """
        return second_factor.start(current_actor())


@blp.route("/me/second-factor/confirm")
class ConfirmSecondFactor(MethodView):
    @blp.arguments(CodeIn, example={"code": "492039"})
    @blp.response(200, SecondFactorConfirmedOut, example={**TOKENS_EXAMPLE, "recovery_codes": ["k3m9p-x7q2r"]})
    @errors(blp, 401, 409, 422, 429)
    @auth_required()
    def post(self, data):
        """Confirm the authenticator with its first code

        Answers ten one-time recovery codes (shown this once: keep them on paper) and a new pair of tokens,
        of the same session, that carries the second factor.
        """
        actor = current_actor()
        codes = second_factor.confirm(actor, data["code"])
        return {**tokens_for(actor.user_id, get_jwt().get("sid"), second_factor=True), "recovery_codes": codes}


@blp.route(f"/users/{id_in_path('user_id')}/second-factor")
class ResetSecondFactor(MethodView):
    @blp.response(204)
    @errors(blp, 401, 403, 404, 429)
    @auth_required("admin")
    def delete(self, user_id):
        """Reset a colleague's authenticator (admins; audited)

        For a lost phone: their authenticator and recovery codes are removed, and they set up a new one at
        their next sign-in. An admin cannot reset their own.
        """
        people.reset_second_factor(current_actor(), user_id)
        return None
