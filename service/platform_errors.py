"""The platform's error catalogue: every error code the platform raises (login and tokens, request guards,
idempotency, transactions, people, places, uploads, notifications, the calendar), each defined once.

A code is defined by one class (``code`` in its own body); a subclass that keeps the code and changes only
the message (or the status) is a variant of it, e.g. ``LinkInactive(LinkDecided)``. A thing that is
looked up by the path (404) and named in a body (422 on its field) is one class, the 422 a subclass that is
also an ``InvalidInput``::

    class UnitNotFound(NotFound):
        code, zh, en = "places.unit_not_found", "房屋不存在", "No such unit"

    class UnitIdUnknown(UnitNotFound, InvalidInput):
        status, field = 422, "unit_id"

Messages with values name them (``{limit}``), given when raised (``raise UriTooLong(limit=4096)``); an
``InvalidInput`` without a ``code`` of its own is a ``validation.invalid`` with its message and field."""
from __future__ import annotations

from service.errors import (Conflict, DomainError, Forbidden, InvalidInput, NotFound, RateLimited, Unauthorized,
                            Unavailable)
from service.i18n import Text


class _Detailed(DomainError):
    """An error whose ``errors`` name one place (``where``) with a message of its own (``detail``)."""

    where: str
    detail: tuple[str, str]

    def __init__(self, **params):
        super().__init__(**params)
        zh, en = self.detail
        self.errors = {self.where: [Text(zh.format(**params), en.format(**params))]}


# --- tokens and accounts ------------------------------------------------------------------------------------------

class TokenMissing(Unauthorized):
    code, zh, en = "auth.token_missing", "请先登录", "A bearer token is required"


class TokenInvalid(Unauthorized):
    code, zh, en = "auth.token_invalid", "登录凭证无效，请重新登录", "The token is not valid"


class TokenExpired(Unauthorized):
    code, zh, en = "auth.token_expired", "登录已过期，请重新登录", "The token has expired"


class TokenNotFresh(Unauthorized):
    code, zh, en = "auth.token_not_fresh", "请重新登录", "A fresh token is required"


class TokenRevoked(Unauthorized):
    code, zh, en = "auth.token_revoked", "登录已退出，请重新登录", "The token has been revoked"


class RefreshTokenSpent(TokenRevoked):
    """A refresh token exchanged already (each works once)."""
    zh, en = "登录已失效，请重新登录", "The token has been used or revoked"


class AccountInactive(Unauthorized):
    """The token's account does not exist any more or is disabled."""
    code, zh, en = "auth.user_inactive", "账号不存在或已停用", "The account does not exist or is disabled"


class AccountGone(AccountInactive):
    """The same, as a refresh or the token's user lookup says it."""
    en = "The account is disabled"


class AccountDisabled(AccountInactive):
    """A WeChat login into a disabled account: who it is is known, the account may not log in."""
    status, zh, en = 403, "账号已停用", "The account is disabled"


class RoleRequired(Forbidden):
    code, zh, en = "auth.role_required", "当前身份无权进行此操作", "Your role does not allow this"


class DemoUserUnknown(NotFound):
    code, zh, en = "auth.demo_user_unknown", "没有这个演示账号", "No such demo account"


# --- the second factor (service.second_factor) ------------------------------------------------------------

class SecondFactorRequired(Forbidden):
    code, zh, en = ("auth.second_factor_required", "此操作需先完成二次验证（动态验证码）",
                    "This needs the second factor (a code from your authenticator)")


class SecondFactorCodeWrong(InvalidInput):
    code, field = "auth.second_factor_code_wrong", "code"
    zh, en = "验证码不正确", "The code is not correct"


class SecondFactorLocked(RateLimited):
    code, zh, en = ("auth.second_factor_locked", "验证码错误次数过多，请 {minutes} 分钟后再试",
                    "Too many wrong codes: try again in {minutes} minutes")


class SecondFactorNotEnrolled(Conflict):
    code, zh, en = ("auth.second_factor_not_enrolled", "尚未绑定身份验证器，请先绑定",
                    "No authenticator is set up yet: set one up first")


class SecondFactorEnrolled(Conflict):
    code, zh, en = ("auth.second_factor_enrolled", "已绑定身份验证器；如需更换，请联系管理员重置",
                    "An authenticator is set up already: an administrator can reset it")


class SecondFactorNotNeeded(Forbidden):
    code, zh, en = ("auth.second_factor_not_needed", "您的账号没有需要二次验证的角色",
                    "Your account holds no role that needs a second factor")


class SecondFactorUnknown(NotFound):
    code, zh, en = "auth.second_factor_unknown", "该用户没有绑定身份验证器", "That person has no authenticator set up"


# --- WeChat -------------------------------------------------------------------------------------------------------

class WeChatCodeInvalid(DomainError):
    code, zh, en = ("auth.wechat_code_invalid", "微信登录凭证无效或已过期，请重新进入小程序",
                    "The WeChat login code is invalid or expired")


class WeChatCodeUsed(WeChatCodeInvalid):
    zh, en = "微信登录凭证已被使用，请重新进入小程序", "The WeChat login code has already been used"


class WeChatPhoneCodeInvalid(DomainError):
    code, zh, en = ("auth.wechat_phone_code_invalid", "手机号授权凭证无效或已过期，请重新授权",
                    "The phone number code is invalid or expired")


class WeChatRateLimited(RateLimited):
    code, zh, en = "auth.wechat_rate_limited", "登录过于频繁，请稍后再试", "WeChat rate limit reached; retry later"


class WeChatUserBlocked(Forbidden):
    code, zh, en = "auth.wechat_user_blocked", "该微信账号存在风险，暂时无法登录", "WeChat has blocked this user as high risk"


class WeChatUnavailable(Unavailable):
    code, zh, en = "auth.wechat_unavailable", "微信服务暂时不可用，请稍后再试", "WeChat is unavailable; please retry later"


class WeChatNoOpenid(WeChatUnavailable):
    en = "WeChat answered without an openid"


class WeChatNoPhone(WeChatUnavailable):
    zh, en = "未能获取手机号，请稍后再试", "WeChat returned no phone number"


class WeChatFailed(DomainError):
    code, status, zh, en = "auth.wechat_error", 502, "微信服务返回错误，请稍后再试", "WeChat answered with an error"


# --- requests -----------------------------------------------------------------------------------------------------

class InvalidJson(_Detailed):
    code, zh, en = "request.invalid_json", "请求体不是有效的 JSON", "The request body is not valid JSON"
    where, detail = "json", ("请求体不是有效的 JSON", "Invalid JSON body.")


class JsonTooDeep(InvalidJson):
    zh, en = "请求体 JSON 嵌套过深（最多 {limit} 层）", "The JSON body is nested too deeply (at most {limit} levels)"
    detail = ("嵌套超过 {limit} 层", "Nested deeper than {limit} levels.")


class UriTooLong(DomainError):
    code, status = "request.uri_too_long", 414
    zh, en = "请求地址过长（最多 {limit} 个字符）", "The request URI is too long (at most {limit} characters)"


class NulCharacter(InvalidInput):
    code, zh, en = "validation.nul_character", "输入包含无效字符", "The input contains a NUL character"


class UnpairedSurrogate(InvalidInput):
    code = "validation.invalid_text"
    zh = "输入包含无效的字符（不成对的代理项）：{name}"
    en = "{name} contains an invalid character (an unpaired UTF-16 surrogate)"


class RequestTooSlow(Unavailable):
    code, zh, en = ("request.too_slow", "请求处理超时，未做任何更改，请重试",
                    "The request took too long and changed nothing; please retry")


class ConcurrentUpdate(Conflict):
    code, zh, en = "concurrent_update", "数据刚被他人修改，请刷新后重试", "Someone else changed this just now; reload and retry"


# --- idempotency --------------------------------------------------------------------------------------------------

class IdempotencyKeyInvalid(InvalidInput):
    code, field = "idempotency.key_invalid", "Idempotency-Key"
    zh, en = "幂等键须为 1–128 个可打印 ASCII 字符", "Idempotency-Key must be 1-128 printable ASCII characters"


class IdempotencyKeyReused(_Detailed):
    code, status = "idempotency.key_reused", 422
    zh, en = "该幂等键已用于另一个不同的请求", "This Idempotency-Key was used for a different request"
    where, detail = "Idempotency-Key", ("已用于另一个不同的请求", "used for a different request")


class IdempotencyInProgress(Conflict):
    code, zh, en = "idempotency.in_progress", "相同的请求正在处理中，请稍候", "The same request is still being processed"


# --- places -------------------------------------------------------------------------------------------------------

class StreetNotFound(NotFound):
    code, zh, en = "places.street_not_found", "街道不存在", "No such street"


class NeighbourhoodNotFound(NotFound):
    code, zh, en = "places.neighbourhood_not_found", "居民区不存在", "No such neighbourhood"


class EstateNotFound(NotFound):
    code, zh, en = "places.estate_not_found", "小区不存在", "No such estate"


class BuildingNotFound(NotFound):
    code, zh, en = "places.building_not_found", "楼栋不存在", "No such building"


class UnitNotFound(NotFound):
    code, zh, en = "places.unit_not_found", "房屋不存在", "No such unit"


class UnitIdUnknown(UnitNotFound, InvalidInput):
    """A unit named in the body that does not exist."""
    status, field = 422, "unit_id"


# --- people: the profile and its verification ---------------------------------------------------------------------

class BirthDateTooEarly(InvalidInput):
    code, field = "people.birth_date_out_of_range", "birth_date"
    zh, en = "出生日期不能早于1900年1月1日", "The birth date cannot be before 1900-01-01"


class BirthDateInFuture(BirthDateTooEarly):
    zh, en = "出生日期不能晚于今天", "The birth date cannot be in the future"


class IdNumberInvalid(InvalidInput):
    field, zh, en = "id_number", "身份证号码格式不正确", "The ID number is not valid"


class IdNumberBirthDateImplausible(InvalidInput):
    field, zh, en = "id_number", "身份证号码中的出生日期不合理", "The birth date in the ID number is not plausible"


class NeighbourhoodUnknown(InvalidInput):
    field, zh, en = "neighbourhood_id", "居民区不存在", "No such neighbourhood"


class OutOfScope(Forbidden):
    code, zh, en = "people.out_of_scope", "超出您的管理范围", "Outside your administrative scope"


class NeighbourhoodOutOfScope(OutOfScope):
    zh, en = "该居民区不在您的负责范围", "This neighbourhood is outside your scope"


class ResidentNotFound(NotFound):
    code, zh, en = "people.resident_not_found", "居民不存在", "No such resident"


class ResidentNotInScope(ResidentNotFound):
    zh, en = "居民不存在或不在您的负责范围", "No such resident in your scope"


class VerifySelf(Forbidden):
    code, zh, en = ("people.verify_self", "工作人员不能核实本人的信息，请由其他工作人员核实",
                    "Staff cannot verify their own data; another staff member must")


class NothingToVerify(InvalidInput):
    code, field = "people.nothing_to_verify", "_schema"
    zh, en = ("请至少核实一项：身份证号码、出生日期、居民区或房屋",
              "Give at least one of id_number, birth_date, neighbourhood_id, unit_id")


class BirthDateDiffersFromIdNumber(InvalidInput):
    field, zh, en = "birth_date", "出生日期与身份证号码不一致", "The birth date differs from the one in the ID number"


class BirthDateDiffersFromVerifiedIdNumber(InvalidInput):
    field, zh, en = ("birth_date", "出生日期与已核验的身份证号码不一致",
                     "The birth date differs from the one in the verified ID number")


class UnitHeldBySeveral(InvalidInput):
    field, zh, en = ("neighbourhood_id", "该房屋由多个居委会负责，请同时核实居民区",
                     "Several neighbourhoods hold this unit; give the neighbourhood too")


class UnitNotInNeighbourhood(InvalidInput):
    field, zh, en = "unit_id", "该房屋不在所核实的居民区", "The unit is not in that neighbourhood"


# --- people: unit claims ------------------------------------------------------------------------------------------

class ClaimPending(Conflict):
    code, zh, en = ("people.claim_pending", "您已提交过该房屋的认证申请，请等待审核",
                    "You already have a pending claim for this unit")


class ClaimNotFound(NotFound):
    code, zh, en = "people.claim_not_found", "认证申请不存在", "No such claim"


class ClaimSelfDecide(Forbidden):
    code, zh, en = ("people.claim_self_decide", "不能审核本人提交的认证申请，请由其他工作人员审核",
                    "You cannot decide your own claim; another staff member must")


class ClaimOutOfScope(Forbidden):
    code, zh, en = "people.claim_out_of_scope", "该房屋不在您负责的居民区", "This unit is outside your neighbourhoods"


class ClaimDecided(Conflict):
    code, zh, en = "people.claim_decided", "该申请已处理", "This claim has already been decided"


class RejectionReasonMissing(InvalidInput):
    field, zh, en = "reason", "驳回时须说明理由", "A reason is required to reject a claim"


class OwnerAlreadyVerified(Conflict):
    code, zh, en = ("people.owner_already_verified", "该产权人已由其他账号认证",
                    "This owner is already verified by another account")


# --- people: family links -----------------------------------------------------------------------------------------

class ElderNotFound(InvalidInput):
    code, field = "people.elder_not_found", "elder_phone"
    zh, en = "未找到姓名和手机号都匹配的居民，请联系居委会登记", "No resident matches this name and phone number"


class LinkSelf(InvalidInput):
    code, field, zh, en = "people.link_self", "elder_phone", "不能为自己申请代办", "You cannot link to yourself"


class LinkExists(Conflict):
    code, zh, en = ("people.link_exists", "已存在与该居民的代办关系或申请",
                    "A link to this resident already exists or is pending")


class LinkNotFound(NotFound):
    code, zh, en = "people.link_not_found", "代办关系不存在", "No such family link"


class LinkSelfConfirm(Forbidden):
    code, zh, en = "people.link_self_confirm", "申请人不能自行确认代办关系", "The requester cannot confirm their own link"


class LinkDecided(Conflict):
    code, zh, en = "people.link_decided", "该申请已处理", "This link has already been decided"


class LinkInactive(LinkDecided):
    """A link to revoke that is neither pending nor confirmed."""
    zh, en = "该代办关系已失效", "This link is no longer active"


# --- people: roles ------------------------------------------------------------------------------------------------

class RoleNotGrantable(InvalidInput):
    field, zh, en = "role", "该角色不能直接授予", "This role cannot be granted"


class ScopeUnfitForRole(InvalidInput):
    field, zh, en = "scope_type", "该角色不支持此范围", "This scope does not fit the role"


class UserUnknown(InvalidInput):
    field, zh, en = "user_id", "用户不存在", "No such user"


class ScopeNotFound(InvalidInput):
    code, field, zh, en = "people.scope_not_found", "scope_id", "授权范围不存在", "No {scope_type} with this id"


class RoleExists(Conflict):
    code, zh, en = "people.role_exists", "该用户已有此角色", "The user already has this role"


class RoleNotFound(NotFound):
    code, zh, en = "people.role_not_found", "角色授权不存在", "No such role assignment"


# --- uploads ------------------------------------------------------------------------------------------------------

class UnsupportedImageType(InvalidInput):
    code, status, field = "uploads.unsupported_type", 415, "file"
    zh, en = ("仅支持 JPEG、PNG、WebP 格式的图片或 PDF 文件",
              "Only JPEG, PNG or WebP images and PDF documents are accepted")


class ImageCorrupt(InvalidInput):
    code, field, zh, en = "uploads.corrupt", "file", "图片已损坏或不完整，无法读取", "The image is damaged or incomplete"


class ImageTooLarge(InvalidInput):
    code, status, field = "uploads.too_large", 413, "file"
    zh, en = "图片不能超过 {mib:g} MB", "The image must be at most {mib:g} MB"


class DocumentTooLarge(ImageTooLarge):
    zh, en = "PDF 文件不能超过 {mib:g} MB", "The PDF must be at most {mib:g} MB"


class DocumentCorrupt(ImageCorrupt):
    zh, en = "PDF 文件已损坏或不完整，无法读取", "The PDF is damaged or incomplete"


class DocumentEncrypted(InvalidInput):
    code, field = "uploads.encrypted", "file"
    zh, en = "PDF 文件设有密码，请上传未加密的文件", "The PDF is password-protected; upload it without a password"


class DocumentActive(InvalidInput):
    code, field = "uploads.active_content", "file"
    zh, en = ("PDF 文件含有脚本、内嵌文件或自动执行的动作，不能上传，请另存为普通 PDF 后再上传",
              "The PDF holds scripts, embedded files or automatic actions; save it as a plain PDF and upload it again")


class DocumentTooManyPages(InvalidInput):
    code, field = "uploads.too_many_pages", "file"
    zh, en = "PDF 文件最多 {limit} 页（此文件 {pages} 页）", "A PDF may have at most {limit} pages (this one has {pages})"


class UploadNotImage(InvalidInput):
    """A document where only images are taken (a case's photos, a paper ballot's scan)."""
    code, field, zh, en = "uploads.not_image", "photos", "此处只能使用图片，不能使用 PDF 文件", "Only images can be used here, not a PDF"


class UploadEmpty(InvalidInput):
    code, field, zh, en = "uploads.empty", "file", "上传的文件是空的", "The uploaded file is empty"


class TooManyPixels(InvalidInput):
    code, field = "uploads.too_many_pixels", "file"
    zh, en = "图片尺寸过大（最多 {mp} 百万像素）", "The image has too many pixels (at most {mp} megapixels)"


class ImageTooManyPixels(TooManyPixels):
    """An image whose size is known: its size, format and the format's limit."""
    zh = "图片尺寸过大：{width}×{height} 像素，{kind} 图片最多 {mp} 百万像素，请缩小后再上传"
    en = ("The image is {width}×{height} pixels: a {kind} image may have at most {mp} megapixels; "
          "make it smaller and upload it again")


class UploadNotFound(NotFound):
    code, zh, en = "uploads.not_found", "图片不存在", "No such image"


class UploadStorageUnavailable(Unavailable):
    """The storage of uploaded files (a directory, or object storage) could not be reached."""
    code, zh, en = "uploads.storage_unavailable", "图片存储暂时不可用，请稍后再试", "Image storage is unavailable; please retry later"


class UploadIdInvalid(UploadNotFound, InvalidInput):
    """An id in a list of photos that cannot be an upload's."""
    status, field, zh, en = 422, "photos", "照片编号无效", "Not a valid upload id"


class ImageIdInvalid(UploadIdInvalid):
    """The id of one image (a mandate, a ballot's scan) that cannot be an upload's."""
    zh = "图片编号无效"


class UploadGone(UploadNotFound, InvalidInput):
    """An upload to attach that does not exist, or is someone else's (which looks the same)."""
    status, field, zh, en = 422, "photos", "照片不存在，请重新上传", "No such upload; upload the photo again"


class UploadListedTwice(InvalidInput):
    code, field, zh, en = "uploads.duplicate", "photos", "同一张照片重复提交", "The same photo is listed twice"


class UploadAlreadyAttached(InvalidInput):
    code, field = "uploads.already_attached", "photos"
    zh, en = "该照片已被使用，请重新上传", "This photo is already attached elsewhere; upload it again"


# --- notifications ------------------------------------------------------------------------------------------------

class NotificationNotFound(NotFound):
    code, zh, en = "notifications.not_found", "消息不存在", "No such notification"


class TemplateUnknown(InvalidInput):
    field, zh, en = "template_ids", "未知的订阅消息模板", "Unknown subscribe-message template"


# --- the working-day calendar -------------------------------------------------------------------------------------

class YearOutOfRange(InvalidInput):
    field, zh, en = "year", "年份应在{first}至{last}之间", "The year must be from {first} to {last}"


class DistrictAdminRequired(Forbidden):
    code, zh, en = ("calendar.district_admin_required", "只有区级管理员可以导入放假安排",
                    "Only a district admin may load a holiday arrangement")


class ArrangementInvalid(DomainError):
    """``errors`` holds every problem by field; the message names the first."""
    code, status = "calendar.arrangement_invalid", 422
    zh, en = "放假安排有误：{first}", "The arrangement is not valid: {first}"


# --- personal data: consent, copies, closure ----------------------------------------------------------------------

class PurposeUnknown(InvalidInput):
    code, field = "privacy.purpose_unknown", "purpose"
    zh, en = "没有这一同意事项", "No such purpose"


class PurposeNotFound(PurposeUnknown, NotFound):
    status, field = 404, None


class NoticeOutdated(Conflict):
    code, zh, en = ("privacy.notice_outdated", "个人信息保护告知书已更新（当前版本 {version}），请阅读新版后再同意",
                    "The privacy notice has changed (now version {version}): read it before consenting")


class ConsentRequiredForService(Conflict):
    code, zh, en = ("privacy.consent_required_for_service", "基本社区服务的同意不能单独撤回；如不再使用，请注销账号",
                    "Consent to the community services cannot be withdrawn on its own: close the account instead")


class ConsentEvidenceMissing(InvalidInput):
    code, field = "privacy.consent_evidence_missing", "evidence"
    zh, en = "代为登记同意时，须注明居民签署的书面同意材料", "Recording a consent for someone needs the signed document"


class SensitiveConsentMissing(Conflict):
    code, zh, en = ("privacy.sensitive_consent_missing",
                    "登记残疾、低保或困难、独居、失能或饮食健康信息前，须先取得居民对敏感个人信息的单独同意",
                    "Recording disability, low income, living alone, limited mobility or health needs the "
                    "resident's separate consent to sensitive data first")


class ConsentPhotoNotBySelf(InvalidInput):
    code, field, zh, en = ("privacy.consent_photo_not_by_self", "evidence_photo",
                           "本人在小程序中同意时无需上传同意书照片", "A consent given in the app needs no photo of a form")


class ConsentNotBySelf(Forbidden):
    code, zh, en = ("privacy.consent_not_by_self", "此项须由监护人同意，请监护人携带书面同意书到居委会办理",
                    "This needs a guardian's consent: the guardian signs the form at the neighbourhood committee")


class MinorNeedsGuardianConsent(Conflict):
    code, zh, en = ("privacy.minor_needs_guardian_consent",
                    "未满十四周岁者的个人信息，须经其监护人同意后方可登记，请监护人携带书面同意书到居委会办理",
                    "The data of a child under 14 is recorded only with their guardian's consent: the guardian "
                    "signs the form at the neighbourhood committee")


class ExportNotFound(NotFound):
    code, zh, en = "privacy.export_not_found", "没有这份个人信息副本", "No such copy of your data"


class ExportNotReady(Conflict):
    code, zh, en = ("privacy.export_not_ready", "个人信息副本正在准备中，完成后会通知您",
                    "Your copy is being prepared: you will be told when it is ready")


class ExportExpired(ExportNotFound):
    status = 410
    zh, en = "这份个人信息副本已过期，请重新申请", "This copy has expired: ask for a new one"


class ClosureNotFound(NotFound):
    code, zh, en = "privacy.closure_not_found", "没有待处理的注销申请", "No account closure is pending"


class ClosureDeadlinePassed(Conflict):
    code, zh, en = ("privacy.closure_deadline_passed", "注销冷静期已过，账号正在注销，无法撤销",
                    "The cooling-off week is over: the closure can no longer be cancelled")
