"""Requests sent at the same moment from real threads (for the concurrency tests)."""
from __future__ import annotations

import threading

from models.base import db


def run_at_once(app, calls, *, timeout: float = 120):
    """Send every call — ``(path, body, headers)`` as a POST, or ``(method, path, body, headers)`` —
    from its own thread, all released by one barrier; returns ``(status, json)`` per call, in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def worker(index, call):
        method, path, body, headers = call if len(call) == 4 else ("POST", *call)
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            try:
                response = client.open(path, method=method, json=body, headers=headers)
                results[index] = (response.status_code, response.get_json())
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results


def call_at_once(app, fn, count: int = 2, *, timeout: float = 120) -> list:
    """Call ``fn()`` from ``count`` threads at the same moment, each in an app context of its own (a sweep run
    by two runners at once); returns what each call returned."""
    barrier = threading.Barrier(count)
    results = []

    def worker():
        with app.app_context():
            barrier.wait()
            try:
                results.append(fn())
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results
