"""Working-day calendar schemas: a year's calendar, and the official arrangement admins load."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from api.schemas.common import Label, Timestamp


class ArrangementIn(ma.Schema):
    notice = ma.fields.String(required=True, validate=validate.Length(min=1, max=64), metadata={
        "description": "The notice's document number", "example": "国办发明电〔2026〕7号"})
    published_on = ma.fields.Date(required=True, metadata={"description": "The day the notice was published"})
    holidays = ma.fields.List(ma.fields.Date(), required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "Every day off the notice gives, weekend days inside a holiday included; every statutory "
                       "day of the year must be among them. Days in the year, or in the month before or after it"})
    workdays = ma.fields.List(ma.fields.Date(), load_default=list, validate=validate.Length(max=100), metadata={
        "description": "The 调休 make-up working days (each a Saturday or Sunday)"})


class StatutoryDayOut(ma.Schema):
    date = ma.fields.Date(required=True)
    festival = ma.fields.String(required=True, metadata={
        "description": "new_year, spring_festival, qingming, labour_day, dragon_boat, mid_autumn or national_day"})
    festival_name = Label("calendar", "festival", required=True, metadata={"example": "元旦"})


class CalendarYearOut(ma.Schema):
    year = ma.fields.Integer(required=True)
    source = ma.fields.String(required=True, metadata={
        "description": "notice (a loaded State Council notice), config (the operator's calendar.yaml), package "
                       "(the chinese_calendar data) or statutory (computed from the statutory holidays: a guess)"})
    source_name = Label("calendar", "source", required=True, metadata={"example": "国务院办公厅通知"})
    provisional = ma.fields.Boolean(required=True, metadata={
        "description": "True while only the statutory rule knows the year: its deadlines are provisional"})
    notice = ma.fields.String(allow_none=True)
    published_on = ma.fields.Date(allow_none=True)
    loaded_at = Timestamp(allow_none=True)
    holidays = ma.fields.List(ma.fields.Date(), required=True, metadata={
        "description": "The year's public holidays, weekend days inside a holiday included"})
    workdays = ma.fields.List(ma.fields.Date(), required=True, metadata={
        "description": "The year's make-up working days (weekend days that are worked)"})
    working_days = ma.fields.Integer(required=True)
    statutory_holidays = ma.fields.List(ma.fields.Nested(StatutoryDayOut), required=True, metadata={
        "description": "The statutory days off under the 2024 rule (from 2025; empty before)"})


class CalendarLoadedOut(CalendarYearOut):
    changed = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), required=True, metadata={
        "description": "By domain, how many open items had deadlines moved, e.g. {\"cases\": 12}"})
