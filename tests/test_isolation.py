"""Each test's rows are invisible to the next, on SQLite and PostgreSQL alike."""
import sqlalchemy as sa

from models.base import db
from models.people import User
from service.db import transactional

MARK = "isolation-probe"


@transactional
def _create_committed():
    db.session.add(User(username=MARK))


def test_1_writes_and_commits_through_a_service():
    _create_committed()
    db.session.remove()  # a fresh session, as the next request would have
    assert db.session.execute(sa.select(User).where(User.username == MARK)).scalar_one().username == MARK


def test_2_does_not_see_the_previous_tests_rows(client):
    assert db.session.execute(sa.select(sa.func.count()).select_from(User).where(User.username == MARK)).scalar() == 0
    # And through HTTP: the demo account list is empty in a fresh test.
    assert client.get("/api/v1/auth/demo/users").json["items"] == []
