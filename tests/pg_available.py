"""Exit 0 when the PostgreSQL server at the given URL answers, 1 otherwise."""
import sys

import sqlalchemy as sa


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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
