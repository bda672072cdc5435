"""A local fake of WeChat's server API, speaking the same paths and error codes.

Login codes: ``ok:<openid>`` (optionally ``ok:<openid>:<unionid>``) succeed;
``err:<errcode>`` answers that errcode; ``busy-once:<openid>`` answers -1 once
then succeeds; ``slow`` sleeps past the client's timeout; ``garbage`` answers
non-JSON. Phone codes: ``phone:<number>``, ``err:<errcode>``, ``wrongapp:<number>``.

Knobs a test may set (``reset()`` puts them back): ``reject_token_once`` (the
next call with a valid access token answers 40001), ``reject_tokens`` (that
many calls do), ``send_error`` (subscribe sends answer this errcode),
``expires_in`` (of new tokens) and ``token_delay`` (seconds stable_token takes).
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


class FakeWeChat:
    def __init__(self, appid: str = "wx-test-appid", secret: str = "wx-test-secret"):
        self.appid = appid
        self.secret = secret
        self.lock = threading.Lock()
        self.reset()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A "slow" answer outlives the client's timeout: do not wait for it at shutdown.
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.token_calls = 0
            self.tokens: list[str] = []
            self.sent: list[dict] = []
            self.requests: list[tuple[str, dict]] = []
            self.busy_seen: set[str] = set()
            self.reject_token_once = False
            self.reject_tokens = 0
            self.token_delay = 0.0
            self.send_error: int | None = None
            self.expires_in = 7200

    @property
    def url(self) -> str:
        host, port = self.server.server_address
        return f"http://{host}:{port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _reply(self, data, raw: bytes | None = None):
                body = raw if raw is not None else json.dumps(data).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with fake.lock:
                    fake.requests.append((url.path, query))
                if url.path != "/sns/jscode2session":
                    return self._reply({"errcode": 404, "errmsg": "no such path"})
                if query.get("appid") != fake.appid or query.get("secret") != fake.secret:
                    return self._reply({"errcode": 40125, "errmsg": "invalid appsecret"})
                code = query.get("js_code", "")
                if code == "slow":
                    time.sleep(3)
                    return self._reply({"openid": "late"})
                if code == "garbage":
                    return self._reply(None, raw=b"<html>bad gateway</html>")
                if code.startswith("err:"):
                    return self._reply({"errcode": int(code[4:]), "errmsg": "fake error"})
                if code.startswith("busy-once:"):
                    with fake.lock:
                        first = code not in fake.busy_seen
                        fake.busy_seen.add(code)
                    if first:
                        return self._reply({"errcode": -1, "errmsg": "system error"})
                    return self._reply({"openid": code.split(":", 1)[1], "session_key": "sk"})
                if code.startswith("ok:"):
                    parts = code.split(":")
                    data = {"openid": parts[1], "session_key": "secret-session-key"}
                    if len(parts) > 2:
                        data["unionid"] = parts[2]
                    return self._reply(data)
                return self._reply({"errcode": 40029, "errmsg": "invalid code"})

            def do_POST(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake.lock:
                    fake.requests.append((url.path, {**query, **body}))
                if url.path == "/cgi-bin/stable_token":
                    if body.get("appid") != fake.appid or body.get("secret") != fake.secret:
                        return self._reply({"errcode": 40125, "errmsg": "invalid appsecret"})
                    if fake.token_delay:
                        time.sleep(fake.token_delay)
                    with fake.lock:
                        fake.token_calls += 1
                        token = f"token-{uuid.uuid4().hex[:8]}"
                        fake.tokens.append(token)
                    return self._reply({"access_token": token, "expires_in": fake.expires_in})
                with fake.lock:
                    valid = query.get("access_token") in fake.tokens
                    if fake.reject_token_once and valid:
                        fake.reject_token_once = False
                        valid = False
                    elif fake.reject_tokens and valid:
                        fake.reject_tokens -= 1
                        valid = False
                if not valid:
                    return self._reply({"errcode": 40001, "errmsg": "invalid credential"})
                if url.path == "/wxa/business/getuserphonenumber":
                    code = body.get("code", "")
                    if code.startswith("err:"):
                        return self._reply({"errcode": int(code[4:]), "errmsg": "fake error"})
                    appid = fake.appid
                    if code.startswith("wrongapp:"):
                        appid, code = "wx-other", "phone:" + code.split(":", 1)[1]
                    if code.startswith("phone:"):
                        number = code.split(":", 1)[1]
                        return self._reply({"errcode": 0, "errmsg": "ok", "phone_info": {
                            "phoneNumber": number, "purePhoneNumber": number, "countryCode": "86",
                            "watermark": {"timestamp": int(time.time()), "appid": appid}}})
                    return self._reply({"errcode": 40029, "errmsg": "invalid code"})
                if url.path == "/cgi-bin/message/subscribe/send":
                    if fake.send_error:
                        return self._reply({"errcode": fake.send_error, "errmsg": "fake send error"})
                    with fake.lock:
                        fake.sent.append(body)
                    return self._reply({"errcode": 0, "errmsg": "ok"})
                return self._reply({"errcode": 404, "errmsg": "no such path"})

        return Handler
