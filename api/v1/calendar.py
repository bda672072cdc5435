"""The working-day calendar of a year, and the official holiday arrangement district admins load."""
from __future__ import annotations

from flask.views import MethodView

from api.docs import errors
from api.errors import language
from api.extensions import Blueprint
from api.schemas.calendar import ArrangementIn, CalendarLoadedOut, CalendarYearOut
from api.security import auth_required, current_actor
from service import calendar, registry

blp = Blueprint("calendar", __name__, url_prefix="/api/v1",
                description="Working days: public holidays and 调休 make-up working days by year")

YEAR = {"year": 2027, "source": "statutory", "source_name": "法定节假日（推算）", "provisional": True,
        "notice": None, "published_on": None, "loaded_at": None,
        "holidays": ["2027-01-01", "2027-02-05", "2027-02-06", "2027-02-07", "2027-02-08", "2027-04-05",
                     "2027-05-01", "2027-05-02", "2027-06-09", "2027-09-15", "2027-10-01", "2027-10-02",
                     "2027-10-03"],
        "workdays": [], "working_days": 254,
        "statutory_holidays": [{"date": "2027-01-01", "festival": "new_year", "festival_name": "元旦"}]}
LOADED = {**YEAR, "source": "notice", "source_name": "国务院办公厅通知", "provisional": False,
          "notice": "国办发明电〔2026〕7号", "published_on": "2026-11-12", "loaded_at": "2026-11-13T09:30:00+08:00",
          # How many open deadlines each subscribed domain moved.
          "changed": {domain.name: 12 for domain in registry.domains() if domain.on_calendar is not None}}


@blp.route("/calendar/<int:year>")
class CalendarYear(MethodView):
    @blp.response(200, CalendarYearOut, example=YEAR)
    @errors(blp, 422)
    def get(self, year):
        """The working-day calendar of a year (anyone)

        Its days off and make-up working days, where they come from
        (`source`: a loaded State Council `notice`, the operator's `config`,
        the holiday `package`, or `statutory`: computed from the statutory
        holidays, a guess), and whether deadlines in it are `provisional`.
        Years 2004–2099.
        """
        return calendar.year_view(year, language())

    @blp.arguments(ArrangementIn)
    @blp.response(200, CalendarLoadedOut, example=LOADED)
    @errors(blp, 401, 403, 409, 422, 429)
    @auth_required("admin")
    def put(self, data, year):
        """Load the State Council's holiday arrangement of a year (district admins; audited)

        The days off (weekend days inside a holiday included) and the 调休
        make-up working days of the notice. Refused with 422
        `calendar.arrangement_invalid`, each problem named by field, when a
        date lies outside the year and the month before or after it, a make-up
        working day is not a Saturday or Sunday, a statutory day of the year is
        not among the days off, or a day is in both lists; nothing changes then.
        Loaded, it decides the year's working days in every process within
        seconds, and every open case's deadlines still ahead follow it (each
        move a case event; the reporter and handlers are told). Loading a year
        again replaces its arrangement. Years 2025–2099.
        """
        return calendar.load_arrangement(current_actor(), year, data, lang=language())
