"""``flask db check`` on a fresh database migrated to head: exit 0 when the models match the migrations,
non-zero when they differ (a model changed without its migration) or the database cannot be migrated.

``python -m tests.schema_check`` checks a temporary SQLite file; ``python -m tests.schema_check URL`` a fresh
database made next to the PostgreSQL database ``URL`` names (and dropped afterwards). ``make test`` runs both.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def check(url: str) -> int:
    env = {**os.environ, "DATABASE_URL": url, "FLASK_APP": "manage.py"}
    for command in ("upgrade", "check"):
        done = subprocess.run([sys.executable, "-m", "flask", "db", command], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            # alembic's INFO lines say what it looked at; the rest says what is wrong.
            lines = (done.stdout + done.stderr).splitlines()
            sys.stderr.write("".join(f"{line}\n" for line in lines if not line.startswith("INFO ")))
            print(f"flask db {command} failed: the models and the migrations differ, or the database "
                  f"could not be migrated", file=sys.stderr)
            return done.returncode
    print("flask db check: the models match the migrations")
    return 0


def main(argv: list[str]) -> int:
    if argv:
        from tests.conftest import fresh_postgres_database

        with fresh_postgres_database(argv[0], prefix="linli_schema_check") as url:
            return check(url)
    with tempfile.TemporaryDirectory() as tmp:
        return check(f"sqlite:///{Path(tmp) / 'schema-check.db'}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
