"""The WeChat server API client: code2session, stable_token (cached and shared),
get_phone_number and send_subscribe. The base URL is configuration, so tests
point the same code at a local fake server."""
from __future__ import annotations

import logging
from datetime import timedelta

import requests
import sqlalchemy as sa

from models.base import db
from models.system import CacheEntry
from service import clock
from service.db import transactional

log = logging.getLogger("linli.wechat")

TOKEN_CACHE_KEY = "wechat:stable_token"
REFRESH_MARGIN = timedelta(minutes=5)
INVALID_TOKEN_CODES = {40001, 40014, 42001}
# A phone code whose watermark names another appid was issued to another mini-program: WeChat's own
# answer for a code "from another appid" is 40029, so it maps to the same "code invalid" 4xx (not to
# "WeChat unavailable, retry later", which a client would retry for ever).
WATERMARK_MISMATCH = 40029


class WeChatError(Exception):
    """WeChat answered with an errcode, or could not be reached (errcode None)."""

    def __init__(self, errcode: int | None, errmsg: str):
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"WeChat error {errcode}: {errmsg}")

    @property
    def unreachable(self) -> bool:
        return self.errcode is None


class WeChatClient:
    def __init__(self, base_url: str, appid: str | None, secret: str | None, timeout: float = 5.0):
        self.base_url = base_url.rstrip("/")
        self.appid = appid
        self.secret = secret
        self.timeout = timeout
        self.http = requests.Session()

    def _call(self, method: str, path: str, *, params=None, body=None, retry_busy: bool = True) -> dict:
        url = f"{self.base_url}{path}"
        for attempt in (1, 2):
            try:
                response = self.http.request(method, url, params=params, json=body, timeout=self.timeout)
                data = response.json()
            except requests.Timeout:
                raise WeChatError(None, "timeout") from None
            except (requests.RequestException, ValueError) as exc:
                # Never log the query string: it carries the secret.
                log.warning("WeChat %s unreachable or answered badly: %s", path, type(exc).__name__)
                raise WeChatError(None, "unreachable") from None
            if not isinstance(data, dict):
                raise WeChatError(None, "bad response")
            errcode = data.get("errcode") or 0
            if errcode == -1 and retry_busy and attempt == 1:
                continue  # system busy: retry once
            if errcode != 0:
                raise WeChatError(int(errcode), str(data.get("errmsg", "")))
            return data
        raise WeChatError(-1, "system busy")

    def code2session(self, code: str) -> dict:
        """Exchange a wx.login code for {openid, unionid?, session_key}."""
        return self._call("GET", "/sns/jscode2session", params={
            "appid": self.appid, "secret": self.secret, "js_code": code, "grant_type": "authorization_code"})

    def stable_token(self, force_refresh: bool = False) -> str:
        """The server access token, cached in the database for every process.

        One refresher at a time: the cache row is locked (PostgreSQL) or the
        write transaction is exclusive (SQLite) while the token is fetched.
        """
        try:
            return self._cached_or_refreshed(force_refresh)
        except sa.exc.IntegrityError:  # another process made the cache row at the same moment: it is there now
            return self._cached_or_refreshed(force_refresh)

    @transactional
    def _cached_or_refreshed(self, force_refresh: bool) -> str:
        now = clock.now()
        entry = db.session.get(CacheEntry, TOKEN_CACHE_KEY)
        if entry is not None and not force_refresh and entry.expires_at - REFRESH_MARGIN > now:
            return entry.value
        if entry is None:
            db.session.add(CacheEntry(key=TOKEN_CACHE_KEY, value="", expires_at=now))
            db.session.flush()
        # populate_existing: the row was read above (into the identity map) before the lock was taken;
        # without it the values another process committed while we waited for the lock are ignored.
        entry = db.session.execute(sa.select(CacheEntry).where(CacheEntry.key == TOKEN_CACHE_KEY)
                                   .with_for_update().execution_options(populate_existing=True)).scalar_one()
        if not force_refresh and entry.expires_at - REFRESH_MARGIN > clock.now():
            return entry.value  # another process refreshed it while we waited
        data = self._call("POST", "/cgi-bin/stable_token", body={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
            "force_refresh": False})
        entry.value = data["access_token"]
        entry.expires_at = clock.now() + timedelta(seconds=int(data.get("expires_in", 7200)))
        return entry.value

    def _with_token(self, path: str, body: dict) -> dict:
        token = self.stable_token()
        try:
            return self._call("POST", path, params={"access_token": token}, body=body)
        except WeChatError as exc:
            if exc.errcode not in INVALID_TOKEN_CODES:
                raise
        # The cached token was rejected: fetch once more and retry the call once.
        self._expire_cached_token()
        token = self.stable_token()
        return self._call("POST", path, params={"access_token": token}, body=body)

    @transactional
    def _expire_cached_token(self) -> None:
        db.session.execute(sa.update(CacheEntry).where(CacheEntry.key == TOKEN_CACHE_KEY)
                           .values(expires_at=clock.now() - timedelta(days=1)))

    def get_phone_number(self, code: str) -> dict:
        """Exchange a getPhoneNumber code for phone_info; checks the watermark's appid."""
        data = self._with_token("/wxa/business/getuserphonenumber", {"code": code})
        info = data.get("phone_info") or {}
        watermark = info.get("watermark") or {}
        if watermark.get("appid") not in (None, self.appid):
            raise WeChatError(WATERMARK_MISMATCH, "watermark appid mismatch")
        return info

    def send_subscribe(self, openid: str, template_id: str, data: dict, page: str | None = None) -> dict:
        body = {"touser": openid, "template_id": template_id,
                "data": {k: {"value": str(v)} for k, v in data.items()}}
        if page:
            body["page"] = page
        return self._with_token("/cgi-bin/message/subscribe/send", body)

