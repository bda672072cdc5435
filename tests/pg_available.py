"""Exit 0 when the PostgreSQL server at the given URL answers, 1 otherwise."""
import os
import sys

import sqlalchemy as sa

LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def main(url: str) -> int:
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        engine.dispose()
        return 0
    except Exception as exc:  # any failure means "not reachable"
        print(f"PostgreSQL check failed: {type(exc).__name__}", file=sys.stderr)
        return 1


def server_url() -> str | None:
    """The PostgreSQL server of the tests (TEST_DATABASE_URL, else the local one) when it answers."""
    url = os.environ.get("TEST_DATABASE_URL") or LOCAL_POSTGRES
    return url if main(url) == 0 else None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
