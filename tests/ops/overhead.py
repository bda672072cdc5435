"""What seeing inside costs a request: ``python -m tests.ops.overhead [DATABASE_URL]``.

The same app (test profile, LOG_FORMAT=json, the access log written to a file as in production) answers
2,000 ``GET /healthz`` and 2,000 ``GET /api/v1/me`` per round, with the hooks of ``api.observability`` (request
id, access-log line, request metrics) removed and in place, in interleaved rounds; each figure is the median
of the rounds, in CPU time of this process (other load on the machine counts less than in wall time). It also
times the hooks themselves inside the requests. Not a test: a measurement (README "Operating Linli").
"""
from __future__ import annotations

import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

REQUESTS = 2000


def build(url: str | None, log_path: Path):
    from manage import create_app
    from models.base import db
    from service.observability import configure_logging
    from tests.factories import make_user, token_for

    url = url or f"sqlite:///{log_path.parent / 'overhead.db'}"
    app = create_app(profile="test", config={"SQLALCHEMY_DATABASE_URI": url, "LOG_FORMAT": "json"})
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parents[2] / "migrations"))
        user = make_user(name="王秀英", phone="13812345678")
        db.session.commit()
        token = token_for(user)
        db.session.remove()
    # alembic's logging set-up (migrations/env.py) replaced the root handler and disabled the app's loggers
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    configure_logging("json", stream=log_path.open("a"))
    for name in ("linli", "linli.access", "linli.errors"):
        logging.getLogger(name).disabled = False
    return app, {"Authorization": f"Bearer {token}"}


def main(argv: list[str]) -> int:
    from api import observability

    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "access.log"
        app, headers = build(argv[0] if argv else None, log_path)
        client = app.test_client()
        before, after = app.before_request_funcs[None], app.after_request_funcs[None]
        spent = [0.0]

        def timed(fn):
            def wrapper(*args):
                started = time.perf_counter()
                try:
                    return fn(*args)
                finally:
                    spent[0] += time.perf_counter() - started
            return wrapper

        start, finish = timed(observability._start), timed(observability._finish)
        before[before.index(observability._start)] = start
        after[after.index(observability._finish)] = finish

        def hooks(on: bool) -> None:
            if on and start not in before:
                before.insert(0, start)
                after.append(finish)
            elif not on and start in before:
                before.remove(start)
                after.remove(finish)

        def run(path: str, hdrs: dict) -> tuple[float, float]:
            spent[0] = 0.0
            started = time.process_time()
            for _ in range(REQUESTS):
                response = client.get(path, headers=hdrs)
            assert response.status_code == 200, response.data
            return (time.process_time() - started) / REQUESTS * 1e6, spent[0] / REQUESTS * 1e6

        paths = (("/healthz", {}), ("/api/v1/me", headers))
        for on in (True, False):  # warm up
            hooks(on)
            for path, hdrs in paths:
                run(path, hdrs)
        cpu = {(path, on): [] for path, _ in paths for on in (False, True)}
        inside = {path: [] for path, _ in paths}
        for round_ in range(int(os.environ.get("ROUNDS", "7"))):
            for on in ((False, True) if round_ % 2 == 0 else (True, False)):
                hooks(on)
                for path, hdrs in paths:
                    per_request, in_hooks = run(path, hdrs)
                    cpu[(path, on)].append(per_request)
                    if on:
                        inside[path].append(in_hooks)
        lines = sum(1 for _ in log_path.open())
    median = {key: statistics.median(values) for key, values in cpu.items()}
    for path, _ in paths:
        off, on, hook = median[(path, False)], median[(path, True)], statistics.median(inside[path])
        print(f"{path:12} without {off:7.1f} µs, with {on:7.1f} µs: +{on - off:5.1f} µs "
              f"({(on / off - 1) * 100:+.1f}%); inside the hooks {hook:5.1f} µs ({hook / off * 100:.1f}% of the request without them)")
    ratio = [median[("/api/v1/me", on)] / median[("/healthz", on)] for on in (False, True)]
    print(f"/me ÷ /healthz: {ratio[0]:.2f} without, {ratio[1]:.2f} with; {lines} access-log lines written")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
