"""Domain errors: a stable machine code, an HTTP status hint and zh-CN/en messages.

Each code is defined once, as a subclass in its area's error catalogue (``service/<domain>/errors.py`` for a
domain, ``service/platform_errors.py`` for the platform), with its Chinese and English message::

    class CaseNotFound(NotFound):
        code, zh, en = "cases.not_found", "案件不存在", "No such case"

    raise CaseNotFound()

A message may name values (``zh = "最多{limit}张"``), given when raised (``raise TooMany(limit=9)``). An
``InvalidInput`` names its field (``field = "category"``); ``errors`` then holds the message under it.

A message in ``errors`` is a ``service.i18n.Text`` (both languages) when the service wrote it; the answer
shows it in the reader's language (``api.messages``). Other values there (a status, a time) are data."""
from __future__ import annotations

from service.i18n import Text


class DomainError(Exception):
    code = "error"
    status = 400
    zh = "请求有误"
    en = "The request is not valid"

    def __init__(self, zh: str | None = None, en: str | None = None, *, code: str | None = None,
                 status: int | None = None, errors: dict | None = None, headers: dict | None = None, **params):
        self.zh = (zh or self.zh).format(**params) if params else zh or self.zh
        self.en = (en or self.en).format(**params) if params else en or self.en
        self.code = code or self.code
        self.status = status or self.status
        self.errors = errors or {}
        self.headers = headers or {}
        super().__init__(self.en)

    def message(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


class InvalidInput(DomainError):
    code, status, zh, en = "validation.invalid", 422, "输入有误", "The input is not valid"
    field = "_schema"

    def __init__(self, field: str | None = None, zh: str | None = None, en: str | None = None, *,
                 code: str | None = None, **params):
        super().__init__(zh, en, code=code, **params)
        self.field = field or self.field
        self.errors = {self.field: [Text(self.zh, self.en)]}


class NothingToChange(InvalidInput):
    """A change request that names nothing to change (an empty PATCH or PUT)."""
    code, zh, en = "validation.nothing_to_change", "没有需要修改的内容", "Nothing to change was given"

    def __init__(self, fields: tuple[str, ...] | list[str]):
        super().__init__()
        self.errors = {"_schema": [Text(f"请至少提供以下一项：{'、'.join(fields)}",
                                        f"Give at least one of: {', '.join(fields)}")]}


class NotFound(DomainError):
    code, status, zh, en = "not_found", 404, "未找到", "Not found"


class Forbidden(DomainError):
    code, status, zh, en = "auth.forbidden", 403, "无权进行此操作", "You are not allowed to do this"


class Unauthorized(DomainError):
    code, status, zh, en = "auth.unauthorized", 401, "请先登录", "Authentication is required"


class Conflict(DomainError):
    code, status, zh, en = "conflict", 409, "操作与当前状态冲突", "The request conflicts with the current state"


class Unavailable(DomainError):
    code, status, zh, en = "service_unavailable", 503, "服务暂时不可用，请稍后再试", "The service is temporarily unavailable"


class RateLimited(DomainError):
    code, status, zh, en = "rate_limited", 429, "请求过于频繁，请稍后再试", "Too many requests, please retry later"

    def __init__(self, retry_after: int = 60, **kwargs):
        super().__init__(headers={"Retry-After": str(retry_after)}, **kwargs)
