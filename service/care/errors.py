"""The care domain's error catalogue: every ``care.*`` code once, with its Chinese and English message."""
from __future__ import annotations

from service.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized


class ElderNotFound(NotFound):
    code, zh, en = "care.elder_not_found", "关爱对象不存在", "No such elder on the roster"


class NotInScope(Forbidden):
    code, zh, en = ("care.not_in_scope", "该老人不在您的工作范围内", "This elder is not in your care or scope")


class AlreadyOnRoster(Conflict):
    code, zh, en = "care.already_on_roster", "该老人已在关爱名单中", "This elder is already on the roster"


# --- devices: vendors, devices in elders' homes, the vendors' events ----------------------------------------------

class ConsentMissing(Conflict):
    code, zh, en = ("care.consent_missing", "老人尚未签署关爱服务（含设备信息）的单独同意，不能安装设备",
                    "The elder has not given the separate consent care devices need")


class VendorNotFound(NotFound):
    code, zh, en = "care.vendor_not_found", "设备厂商不存在", "No such device vendor"


class VendorCodeTaken(Conflict):
    code, zh, en = "care.vendor_code_taken", "该厂商代码已被使用", "This vendor code is already in use"


class VendorUnknown(InvalidInput):
    code, zh, en = "care.vendor_unknown", "没有此厂商代码，或该厂商已停用", "No such vendor code, or the vendor was revoked"
    field = "vendor_code"


class DeviceNotFound(NotFound):
    code, zh, en = "care.device_not_found", "设备不存在", "No such device"


class DeviceExists(Conflict):
    code, zh, en = ("care.device_exists", "该厂商的这台设备已登记在册（先移除才能重新登记）",
                    "This vendor's device is registered already (remove it first to register it again)")


class ElderNotInCare(Conflict):
    code, zh, en = ("care.device_elder_ended", "该老人已不在关爱名单中，不能安装设备",
                    "This elder's care has ended: no device can be added")


class SignatureMissing(Unauthorized):
    code, zh, en = ("care.signature_missing", "缺少厂商签名（X-Linli-Vendor、X-Linli-Timestamp、X-Linli-Signature）",
                    "The vendor signature headers are missing (X-Linli-Vendor, X-Linli-Timestamp, X-Linli-Signature)")


class VendorInvalid(Unauthorized):
    code, zh, en = "care.vendor_invalid", "厂商代码无效或已停用", "Unknown or revoked vendor"


class SignatureExpired(Unauthorized):
    code, zh, en = ("care.signature_expired", "签名时间戳无效或与服务器时间相差过大",
                    "The signature timestamp is not valid or too far from the server's clock")


class SignatureInvalid(Unauthorized):
    code, zh, en = "care.signature_invalid", "签名不正确", "The signature does not match the body"


class CursorInvalid(InvalidInput):
    code, zh, en = "care.cursor_invalid", "分页游标无效", "The cursor is not valid"
    field = "cursor"
