"""The generated cases data set (bench/gen_cases.py) leaves the database as the application would: the next
case the API creates takes the next id and the next number of its street's day, on SQLite and PostgreSQL."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from bench import gen_cases
from models.base import db
from models.cases import Case, CaseCounter
from models.places import Neighbourhood, Street
from service import clock
from tests.factories import auth, make_user


@pytest.mark.real_commits
def test_a_case_reported_after_the_generated_set_takes_the_next_id_and_number(client, database_url):
    # As the benchmark runs it: outside the application (its own engine), here in a thread of its own.
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(gen_cases.generate(database_url, 1000,
                                                                              progress=lambda message: None)))
    worker.start()
    worker.join(120)
    meta = result
    assert meta, "the data set was not generated"
    db.session.remove()
    last_id = db.session.execute(sa.select(sa.func.max(Case.id))).scalar()
    assert last_id == meta["first_case_id"] + 999
    # Each street's counter of each day stands at its last generated number.
    counters = dict(((s, d), n) for s, d, n in db.session.execute(
        sa.select(CaseCounter.street_id, CaseCounter.day, CaseCounter.last)))
    numbers = db.session.execute(sa.select(Case.street_id, Case.number)).all()
    highest: dict = {}
    for street_id, number in numbers:
        key = (street_id, number[-13:-5])
        highest[key] = max(highest.get(key, 0), int(number[-4:]))
    assert counters == highest and len(counters) > 100

    # Report today in the first generated street, at its first neighbourhood's point.
    nb = db.session.execute(sa.select(Neighbourhood).join(Street, Street.id == Neighbourhood.street_id)
                            .where(Street.code == "BENCH-S01").order_by(Neighbourhood.id)).scalars().first()
    day = clock.local_now().strftime("%Y%m%d")
    today_before = counters.get((nb.street_id, day), 0)
    resident = make_user(name="王秀英", phone="13812345678", neighbourhood_id=nb.id)
    db.session.commit()
    answer = client.post("/api/v1/cases", headers=auth(resident), json={
        "category": "corridor_clutter", "description": "3号楼楼道堆满纸箱",
        "location": {"lat": nb.lat, "lng": nb.lng, "datum": "gcj02"}})
    assert answer.status_code == 201, answer.json
    assert answer.json["id"] == last_id + 1
    assert answer.json["number"].endswith(f"{day}-{today_before + 1:04d}")
