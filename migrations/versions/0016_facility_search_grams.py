"""facility_search_grams: on PostgreSQL, facilities found by name, subtype or address through the characters
and character pairs they contain (a GIN index), not by reading every facility

``linli_search_grams(text)`` is the set of single characters and pairs of adjacent characters of a text (ASCII
letters lower-cased; none with white space); ``ix_facility_grams`` indexes it over a facility's name, subtype and
address. A search asks for the facilities whose set holds every pair of the words searched for (a one-character
word: that character), then checks the substring itself. SQLite searches as before.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 13:10:00

"""
from alembic import op


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

GRAMS = """
CREATE FUNCTION linli_search_grams(t text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
  SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (
    SELECT substr(u, i, n) AS g
    FROM (SELECT translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') AS u) s,
         generate_series(1, 2) AS n, generate_series(1, length(u) - n + 1) AS i
  ) grams WHERE g !~ '\\s'
$$
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(GRAMS)
    op.execute("CREATE INDEX ix_facility_grams ON facility USING gin (linli_search_grams("
               "coalesce(name, '') || ' ' || coalesce(subtype, '') || ' ' || coalesce(address, '')))")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX ix_facility_grams")
    op.execute("DROP FUNCTION linli_search_grams(text)")
