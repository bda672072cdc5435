"""Who may see and do what in the meal service: a site's operators and the staff whose scope covers it run
it; the diner, a confirmed relative and staff covering the diner's verified neighbourhood book and cancel
for the diner; 居委会 staff keep the meal cards."""
from __future__ import annotations

from models.base import db
from models.meals import MealBooking, MealSite
from models.people import ResidentProfile
from service import people
from service.meals import errors
from service.meals.sites import site_rules
from service.people import Actor


def may_operate(actor: Actor, site: MealSite) -> bool:
    """The site's operators, and staff or admins whose scope covers it."""
    if site.id in actor.scope_ids("operator", "meal_site"):
        return True
    return actor.is_staff and (site.street_id in actor.street_ids or actor.covers_neighbourhood(site.neighbourhood_id))


def require_operate(actor: Actor, site: MealSite) -> None:
    if not may_operate(actor, site):
        raise errors.NotSiteOperator()


def may_see_phones(actor: Actor, site: MealSite) -> bool:
    """The diners' phones in full in the delivery list: only the site's own operators, whose courier calls at
    the door (staff who may read the manifest too get them masked)."""
    return site.id in actor.scope_ids("operator", "meal_site")


def may_book_for(actor: Actor, diner_id: int) -> bool:
    """The diner, a confirmed relative, or staff covering the diner's verified neighbourhood."""
    return people.may_act_for(actor, diner_id)


def require_book_for(actor: Actor, diner_id: int) -> str:
    """As whom the actor books for the diner: ``"self"``, ``"family"`` or ``"staff"`` (kept on the booking);
    refused to anyone else."""
    relation = people.acts_as(actor, diner_id)
    if relation is None:
        raise errors.NotAllowedToBookForDiner()
    return relation


def may_see(actor: Actor, booking: MealBooking) -> bool:
    """Who booked it, the diner and whoever may act for them, and those who operate the site."""
    if actor.user_id in (booking.diner_user_id, booking.booked_by_user_id):
        return True
    if people.may_act_for(actor, booking.diner_user_id):
        return True
    return may_operate(actor, db.session.get(MealSite, booking.site_id))


def may_cancel(actor: Actor, booking: MealBooking) -> bool:
    """The diner and whoever may act for them; staff who operate the site."""
    if people.may_act_for(actor, booking.diner_user_id):
        return True
    return actor.is_staff and may_operate(actor, db.session.get(MealSite, booking.site_id))


def may_cancel_after_cutoff(actor: Actor, site: MealSite) -> bool:
    """A confirmed booking after the cut-off: staff who operate the site, where its rules allow it."""
    return actor.is_staff and may_operate(actor, site) and site_rules(site).staff_cancel_after_cutoff


def may_see_card(actor: Actor, user_id: int) -> bool:
    """The resident, a confirmed relative, or staff covering the resident's verified neighbourhood."""
    return people.may_act_for(actor, user_id)


def may_manage_card(actor: Actor, profile: ResidentProfile | None) -> bool:
    """居委会 staff covering the resident's verified neighbourhood issue the card and record its statuses."""
    return profile is not None and actor.is_staff and actor.covers_neighbourhood(profile.neighbourhood_id)


def may_see_street(actor: Actor, street_id: int) -> bool:
    """The street roll-up of the statements: staff and admins whose scope covers the whole street."""
    return actor.is_staff and street_id in actor.street_ids
