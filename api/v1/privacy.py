"""A person's rights over their personal data: the privacy notice, consent per purpose, a copy of one's data,
and (on ``/me``, in api/v1/people.py) closing the account."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.schemas.common import id_in_path
from api.schemas.privacy import (CLOSURE, ClosureOut, ConsentIn, ConsentsOut, DataExportOut, DataExportsOut,
                                 NoticeOut)
from api.security import auth_required, current_actor
from service import account_closure, consent, data_export

blp = Blueprint("privacy", __name__, url_prefix="/api/v1",
                description="Personal data: the privacy notice, consents, a copy of one's data")

CONSENT = {"id": 3, "purpose": "sensitive_status", "purpose_name": "敏感个人信息（身份状态与健康）",
           "notice_version": "2026.12", "given_at": "2026-12-06T10:00:00+08:00", "channel": "staff",
           "channel_name": "居委会代为登记", "evidence": "paper_form", "evidence_name": "书面同意书", "withdrawn_at": None}
CONSENTS = {"user_id": 42, "accepted_version": "2026.12", "current_version": "2026.12", "needs_acceptance": False,
            "purposes": [{"code": "sensitive_status", "name": "敏感个人信息（身份状态与健康）", "required": False,
                          "sensitive": True, "given": True, "consent": CONSENT}], "history": [CONSENT]}


NOTICE = {"version": "2026.12", "published": "2026-12-01", "title": "邻里个人信息保护告知书",
          "controller": "邻里社区服务平台运营方（由街道委托）", "sections": ["我们处理您的姓名、手机号……"],
          "purposes": [{"code": "service", "name": "基本社区服务", "text": "提供诉求办理、助餐预订、业主表决和消息通知等服务",
                        "required": True, "sensitive": False, "by_self": True}],
          "evidence": ["paper_form"], "evidence_names": ["书面同意书"]}


@blp.route("/privacy-notice")
class PrivacyNotice(MethodView):
    @blp.response(200, NoticeOut, example=NOTICE)
    def get(self):
        """The privacy notice in force (个人信息保护告知书)

        Its version, text and the purposes one consents to; no login needed. Chinese, or English by
        Accept-Language.
        """
        return consent.present_notice(language())


def _consents(user_id: int, data: dict | None = None, withdraw: str | None = None):
    actor = current_actor()
    if data is not None:
        consent.give(actor, user_id, notice_version=data["notice_version"], purposes=data.get("purposes"),
                     evidence=data.get("evidence"), evidence_photo=data.get("evidence_photo"))
    if withdraw is not None:
        consent.withdraw(actor, user_id, withdraw)
    return consent.status(actor, user_id, language(), audited=data is None and withdraw is None)


@blp.route("/me/consents")
class MyConsents(MethodView):
    @blp.response(200, ConsentsOut, example=CONSENTS)
    @errors(blp, 401)
    @auth_required()
    def get(self):
        """My consents, and whether the notice in force is accepted

        The mini-program asks this at launch: `needs_acceptance` means the notice changed (or was never
        accepted) and should be shown.
        """
        return _consents(current_actor().user_id)

    @blp.arguments(ConsentIn, example={"notice_version": "2026.12", "purposes": ["sensitive_status"]})
    @blp.response(200, ConsentsOut, example=CONSENTS)
    @errors(blp, 401, 409, 422, 429)
    @auth_required()
    def post(self, data):
        """Accept the notice, or consent to purposes

        Without `purposes`: accept the notice (its required purposes). With them: consent to each, e.g. the
        separate consent to sensitive data before 居委会 staff record a status. The version must be the one in
        force (409 otherwise). Giving a consent already given changes nothing.
        """
        return _consents(current_actor().user_id, data)


@blp.route("/me/consents/<string:purpose>")
class MyConsent(MethodView):
    @blp.response(200, ConsentsOut, example=CONSENTS)
    @errors(blp, 401, 404, 409, 429)
    @auth_required()
    def delete(self, purpose):
        """Withdraw a consent

        What relies on it stops at once: withdrawing `sensitive_status` stops meal subsidies and priority by
        the recorded statuses (the prices say so). The consent to the community services is not withdrawn on
        its own (409): closing the account does that.
        """
        return _consents(current_actor().user_id, withdraw=purpose)


@blp.route(f"/residents/{id_in_path('user_id')}/consents")
class ResidentConsents(MethodView):
    @blp.response(200, ConsentsOut, example=CONSENTS)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self, user_id):
        """A resident's consents (a confirmed family member, or staff covering them)"""
        return _consents(user_id)

    @blp.arguments(ConsentIn, example={"notice_version": "2026.12", "purposes": ["sensitive_status"],
                                       "evidence": "paper_form"})
    @blp.response(200, ConsentsOut, example=CONSENTS)
    @errors(blp, 401, 404, 409, 422, 429)
    @auth_required()
    def post(self, data, user_id):
        """Record a consent for a resident (audited)

        For elders without a smartphone: a confirmed family member, or 居委会 staff covering the resident, who
        name the document the resident signed (`evidence`).
        """
        return _consents(user_id, data)


@blp.route(f"/residents/{id_in_path('user_id')}/consents/<string:purpose>")
class ResidentConsent(MethodView):
    @blp.response(200, ConsentsOut, example=CONSENTS)
    @errors(blp, 401, 404, 409, 429)
    @auth_required()
    def delete(self, user_id, purpose):
        """Withdraw a consent for a resident (a confirmed family member, or staff; audited)"""
        return _consents(user_id, withdraw=purpose)


ZIP_BODY = {"type": "string", "format": "binary"}
EXPORT = {"id": 5, "status": "ready", "status_name": "可下载", "requested_at": "2026-12-06T10:00:00+08:00",
          "ready_at": "2026-12-06T10:00:01+08:00", "expires_at": "2026-12-13T10:00:01+08:00", "size": 48211,
          "sha256": "9f2c…", "counts": {"profile": 1, "cases_reported": 3, "photos": 2},
          "download": "/api/v1/me/data-export/5/download"}


@blp.route("/me/data-export")
class MyDataExport(MethodView):
    @blp.response(200, DataExportsOut, example={"items": [EXPORT]})
    @errors(blp, 401)
    @auth_required()
    def get(self):
        """My copies of my personal data, and where to download them"""
        return {"items": [data_export.present(e) for e in data_export.mine(current_actor())]}

    @blp.response(201, DataExportOut, example=EXPORT)
    @blp.alt_response(202, schema=DataExportOut, description="Being prepared: the inbox says when it is ready",
                      example={**EXPORT, "status": "pending", "status_name": "准备中", "ready_at": None,
                               "expires_at": None, "size": None, "sha256": None, "counts": None, "download": None})
    @errors(blp, 401, 429, 503)
    @auth_required()
    def post(self):
        """Ask for a copy of everything Linli holds about me (PIPL Art. 45)

        A zip of JSON documents (profile and who verified it, family links, cases reported and followed with
        what the reporter sees, meal card and bookings, ballots with their receipts, notifications, consents,
        who looked at my data) and my own photos. Usually ready at once (201); with many photos it is prepared
        by the scheduler (202) and the inbox says when. Downloadable for 7 days. Asked again while one is
        being prepared, or within an hour of the last, the same copy is given.
        """
        export = data_export.request(current_actor())
        return data_export.present(export), 201 if export.status == "ready" else 202


@blp.route(f"/me/data-export/{id_in_path('export_id')}/download")
class MyDataExportFile(MethodView):
    @blp.response(200, ZIP_BODY, content_type="application/zip", description="The zip")
    @errors(blp, 401, 404, 409, 410, 503)
    @auth_required()
    def get(self, export_id):
        """Download a copy of my personal data (a zip; only its owner, until it expires)"""
        data, name = data_export.download(current_actor(), export_id)
        return Response(data, mimetype="application/zip", headers={
            "Content-Disposition": f"attachment; filename={name}", "Cache-Control": "no-store"})


@blp.route("/me/closure")
class MyClosure(MethodView):
    @blp.response(200, ClosureOut, example=CLOSURE)
    @errors(blp, 401, 404)
    @auth_required()
    def get(self):
        """My account closure: when it happens, and what it keeps (404: none asked for)"""
        return account_closure.present(account_closure.current(current_actor()), language())

    @blp.response(200, ClosureOut, example={**CLOSURE, "status": "cancelled", "status_name": "已撤销",
                                            "cancelled_at": "2026-12-07T09:00:00+08:00"})
    @errors(blp, 401, 404, 409, 429)
    @auth_required()
    def delete(self):
        """Cancel closing my account (during the cooling-off week)"""
        return account_closure.present(account_closure.cancel(current_actor()), language())
