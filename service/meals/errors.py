"""The meal service's error catalogue: every error code it raises, each defined once (``code`` in the class's
own body). A subclass that keeps the code and changes only the message is a variant of it, e.g. the same
refusal told to the diner or to someone booking for them (``DinerAlreadyBooked(AlreadyBooked)``).

Messages with values name them (``{limit}``), given when raised (``raise QuantityTooLarge(limit=3)``); an
``InvalidInput`` without a ``code`` of its own is a ``validation.invalid`` with its message and field."""
from __future__ import annotations

from service.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.platform_errors import ResidentNotFound, ResidentNotInScope  # noqa: F401  (the platform's errors)
from service.i18n import Text

# --- sites and slots --------------------------------------------------------------------------------------------


class SiteNotFound(NotFound):
    code, zh, en = "meals.site_not_found", "助餐点不存在", "No such meal site"


class NotSiteOperator(Forbidden):
    code, zh, en = "meals.not_site_operator", "您不是该助餐点的运营或负责人员", "You do not operate this meal site"


class SiteNotBookable(Conflict):
    """Booking at a site that is closed or takes no bookings."""
    code, zh, en = "meals.site_not_bookable", "该助餐点暂不接受预订", "This site takes no bookings"


class SiteTakesNoSlots(SiteNotBookable):
    """Publishing a meal at a site that takes no bookings."""
    zh = "该助餐点不接受预订"


class MealNotConfigured(InvalidInput):
    code, field, zh, en = ("meals.meal_not_configured", "meal", "该助餐点未配置此餐次",
                           "The rules define no times for this meal")


class NoDeliveryAtSite(InvalidInput):
    code, field, zh, en = "meals.no_delivery_at_site", "capacity.delivery", "该助餐点不提供送餐", "This site does not deliver"


class SlotExists(Conflict):
    code, zh, en = "meals.slot_exists", "该日该餐次已发布", "This meal is already published"


class NotAServiceDay(InvalidInput):
    code, field, zh, en = "meals.not_a_service_day", "day", "该助餐点当天不供餐", "The site does not serve on that day"


class DayInPast(InvalidInput):
    field, zh, en = "day", "不能发布过去日期的餐次", "The day is in the past"


class SlotUnknown(InvalidInput):
    code, field, zh, en = "meals.slot_not_found", "slot_id", "餐次不存在", "No such meal slot"


class SetMealUnknown(InvalidInput):
    code, field, zh, en = "meals.set_meal_not_found", "set_meal_id", "该餐次没有这个套餐", "No such set meal on this slot"


# --- booking ------------------------------------------------------------------------------------------------------

class NotAllowedForDiner(Forbidden):
    """Asking for a diner's prices (the slots) without being allowed to act for them."""
    code, zh, en = "meals.not_allowed_for_diner", "您无权为该居民订餐", "You may not act for this resident"


class NotAllowedToBookForDiner(NotAllowedForDiner):
    zh, en = ("您无权为该居民订餐（需本人、已确认的家属或负责的社工）",
              "Only the diner, a confirmed family member or staff in scope may book for them")


class WindowNotOpen(Conflict):
    code, zh, en = "meals.window_not_open", "该餐次尚未开放预订", "Booking for this meal is not open yet"


class CutoffPassed(Conflict):
    """Booking after the cut-off."""
    code, zh, en = "meals.cutoff_passed", "已过预订截止时间", "The booking cut-off has passed"


class CancelCutoffPassed(CutoffPassed):
    """Cancelling a confirmed booking after the cut-off, other than by staff in scope."""
    zh, en = "已过取消截止时间，如需取消请联系居委会或助餐点", "The cancellation cut-off has passed; ask staff"


class QuantityTooLarge(InvalidInput):
    code, field, zh, en = "meals.quantity_too_large", "quantity", "每次最多预订{limit}份", "At most {limit} portions"


class ModeNotOffered(InvalidInput):
    code, field, zh, en = "meals.mode_not_offered", "mode", "该餐次不提供此就餐方式", "This meal does not offer this mode"


class NotEligible(Forbidden):
    """No elder price at a site closed to the public. Raised with the reason's message, told to the diner or
    to who books for them (``pricing.ineligible_message``); the message is also given under ``diner_id``."""
    code = "meals.not_eligible"

    def __init__(self, zh: str, en: str):
        super().__init__(zh, en, errors={"diner_id": [Text(zh, en)]})


class DeliveryNotAllowed(InvalidInput):
    code, field, zh, en = ("meals.delivery_not_allowed", "mode", "送餐仅限80岁以上或经核实的独居、残疾、行动不便长者",
                           "Delivery is for elders aged 80+ or with a verified living-alone, disability or mobility "
                           "status")


class AddressUnknown(InvalidInput):
    """Told to the diner."""
    code, field, zh, en = ("meals.address_unknown", "mode", "没有您的住址信息，无法送餐",
                           "Your address is unknown; delivery is not possible")


class DinerAddressUnknown(AddressUnknown):
    """Told to who books for the diner."""
    zh, en = "没有用餐人的住址信息，无法送餐", "The diner's address is unknown; delivery is not possible"


class OutsideDeliveryRadius(InvalidInput):
    code, field, zh, en = ("meals.outside_delivery_radius", "mode", "住址超出该助餐点的送餐范围",
                           "The address is outside the delivery radius")


class SlotFull(Conflict):
    code, zh, en = "meals.slot_full", "该餐次已订满，可选择加入候补", "This meal is fully booked; you may join the waitlist"


class AlreadyBooked(Conflict):
    """Told to the diner."""
    code, zh, en = ("meals.already_booked", "您已预订（或候补）此餐次",
                    "You already have a booking (or a waitlist place) for this meal")


class DinerAlreadyBooked(AlreadyBooked):
    """Told to who books for the diner."""
    zh, en = "用餐人已预订（或候补）此餐次", "The diner already has a booking (or a waitlist place) for this meal"


class CodeExhausted(Conflict):
    code, zh, en = "meals.code_exhausted", "请重试", "Please retry"


# --- a booking: cancelling, serving ----------------------------------------------------------------------------------

class BookingNotFound(NotFound):
    code, zh, en = "meals.booking_not_found", "订餐记录不存在", "No such booking"


class CodeNotFound(BookingNotFound):
    """At the counter: no booking of the site by that code, token or id."""
    zh = "没有这个取餐码"


class NotCancellable(Conflict):
    code, zh, en = ("meals.not_cancellable", "该订餐已取餐、已取消或已记为未到，不能取消",
                    "This booking can no longer be cancelled")


class ReasonRequired(InvalidInput):
    field, zh, en = "reason", "截止后取消须说明理由", "A reason is required after the cut-off"


class BookingChanged(Conflict):
    code, zh, en = "meals.concurrent_update", "订餐状态刚被修改，请刷新", "The booking just changed"


class AlreadyServed(Conflict):
    code, zh, en = "meals.already_served", "该订餐已取餐，请勿重复核销", "Already served"


class NotServable(Conflict):
    code, zh, en = ("meals.not_servable", "该订餐不是待取餐状态（候补、已取消或已记为未到）",
                    "The booking is {state}, not confirmed")


class WrongDay(Conflict):
    code, zh, en = "meals.wrong_day", "不是该订餐的用餐日", "This booking is for another day"


# --- meal cards ------------------------------------------------------------------------------------------------------

class CardNotFound(NotFound):
    code, zh, en = "meals.card_not_found", "尚未办理助餐卡", "No meal card yet"


# The platform's code for a resident out of reach (service/people.py raises it too; it belongs to the platform's
# catalogue, where these two classes go once it has them).


# --- statements ----------------------------------------------------------------------------------------------------

class MonthInvalid(InvalidInput):
    field, zh, en = "month", "月份格式应为 YYYY-MM", "month must be YYYY-MM"


class MonthOutOfRange(InvalidInput):
    code, field, zh, en = ("meals.month_out_of_range", "month", "月份应在 {first} 至 {last} 之间",
                           "month must be from {first} to {last}")


class StreetOutOfScope(Forbidden):
    code, zh, en = "meals.street_out_of_scope", "该街道不在您的管理范围", "This street is outside your scope"
