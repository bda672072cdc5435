"""The SQL statements the app sends while a block runs, as (statement, parameters) pairs."""
from contextlib import contextmanager

import sqlalchemy as sa

from models.base import db


@contextmanager
def statements_sent():
    """``with statements_sent() as sent:`` — ``sent`` lists what the test's connection executed in the block."""
    sent: list[tuple[str, object]] = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)
