"""A page's LIMIT and OFFSET written into the statement on PostgreSQL (service.postgres.write_pages), so that
the server keeps one plan for a paginated statement; SQLite's statements keep them as parameters."""
import sqlalchemy as sa

from models.base import db
from models.people import User
from service import postgres
from service.db import page_limit, paged, paginate
from tests.factories import make_user
from tests.statements import statements_sent


def _engine():
    """An engine of the production driver (it connects only when used, and is not used here)."""
    return sa.create_engine("postgresql+psycopg://linli@localhost/linli")


def _pages_written_dialect():
    engine = _engine()
    postgres.write_pages(engine)
    return engine.dialect


def test_integer_limit_and_offset_are_written_in_at_execution():
    dialect = _pages_written_dialect()
    page = paged(sa.select(User.id).order_by(User.id))
    compiled = page.compile(dialect=dialect)
    assert "LIMIT __[POSTCOMPILE_limit] OFFSET __[POSTCOMPILE_offset]" in compiled.string   # cached once
    assert str(page.params(limit=20, offset=40).compile(dialect=dialect, compile_kwargs={
        "render_postcompile": True})).endswith("LIMIT 20 OFFSET 40")
    assert str(sa.select(User.id).limit(5).compile(dialect=dialect, compile_kwargs={"render_postcompile": True})) \
        .endswith("LIMIT 5")
    assert "LIMIT __[POSTCOMPILE_limit]" in str(sa.select(User.id).limit(page_limit()).compile(dialect=dialect))


def test_anything_but_an_integer_parameter_stays_a_parameter():
    dialect = _pages_written_dialect()
    untyped = sa.select(User.id).limit(sa.bindparam("limit"))
    assert str(untyped.compile(dialect=dialect)).endswith("LIMIT %(limit)s")
    plain = _engine().dialect   # a dialect not given the compiler
    assert str(sa.select(User.id).limit(5).compile(dialect=plain)).endswith("LIMIT %(param_1)s::INTEGER")
    engine = _engine()
    postgres.write_pages(engine)
    postgres.write_pages(engine)   # twice is once
    assert engine.dialect.statement_compiler.__mro__.count(postgres._PagesWritten) == 1


def test_the_app_pages_as_before_with_the_page_written_in_on_postgres(app, is_postgres):
    users = [make_user(name=f"分页{i}") for i in range(7)]
    db.session.flush()
    ids = sorted(u.id for u in users)
    query = sa.select(User).where(User.id.in_(ids)).order_by(User.id)
    with statements_sent() as sent:
        items, total = paginate(query, 2, 3)
    seen = [statement for statement, _ in sent]
    assert [u.id for u in items] == ids[3:6] and total == 7
    page = [s for s in seen if "LIMIT" in s][-1]
    if is_postgres:
        assert page.rstrip().endswith("LIMIT 3 OFFSET 3")
    else:
        assert page.rstrip().endswith("LIMIT ? OFFSET ?")


def test_the_server_keeps_one_plan_for_a_page_on_postgres(app, is_postgres):
    """psycopg prepares a statement at its fifth run; PostgreSQL then plans it five times for the values given
    and goes on with a plan for any values when that costs no more. Written in, the page costs the same to both."""
    if not is_postgres:
        return
    for i in range(30):
        make_user(name=f"计划{i}")
    db.session.flush()
    query = sa.select(User).order_by(User.id)
    for _ in range(12):
        paginate(query, 1, 20)
    plans = db.session.execute(sa.text(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE statement LIKE '%FROM \"user\" ORDER BY \"user\".id%LIMIT 20 OFFSET 0%'")).all()
    assert len(plans) == 1
    generic, custom = plans[0]
    assert generic >= 1 and custom <= 5
