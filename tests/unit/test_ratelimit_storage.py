"""The in-process fixed-window store behind the rate limits (api/ratelimit_storage.py)."""
import threading

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from api import ratelimit_storage
from api.ratelimit_storage import ProcessMemoryStorage


def test_the_scheme_is_registered_and_counts_a_window_then_starts_a_new_one(monkeypatch):
    now = [1_000.0]
    monkeypatch.setattr(ratelimit_storage.time, "time", lambda: now[0])
    storage = storage_from_string("process-memory://")
    assert isinstance(storage, ProcessMemoryStorage)
    limiter, limit = FixedWindowRateLimiter(storage), parse("2 per minute")
    assert limiter.hit(limit, "user:1") and limiter.hit(limit, "user:1")
    assert not limiter.hit(limit, "user:1")          # the third in the window is refused
    assert limiter.hit(limit, "user:2")              # another key has its own window
    stats = limiter.get_window_stats(limit, "user:1")
    assert stats.remaining == 0 and stats.reset_time == 1_060.0
    now[0] = 1_059.9
    assert not limiter.hit(limit, "user:1")
    now[0] = 1_060.0                                 # the window has ended: a new one starts
    key = limit.key_for("user:1")
    assert limiter.hit(limit, "user:1") and storage.get(key) == 1
    assert storage.get_expiry(key) == 1_120.0


def test_expired_windows_are_swept_and_clear_and_reset_forget(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(ratelimit_storage.time, "time", lambda: now[0])
    storage = ProcessMemoryStorage()
    for i in range(100):
        storage.incr(f"ip:{i}", 60)
    assert len(storage._counts) == 100
    now[0] = ratelimit_storage.SWEEP_SECONDS + 1     # every window expired; the next write sweeps them
    storage.incr("ip:new", 60)
    assert set(storage._counts) == {"ip:new"} and set(storage._expiry) == {"ip:new"}
    storage.clear("ip:new")
    assert storage.get("ip:new") == 0
    storage.incr("a", 60)
    storage.incr("b", 60)
    assert storage.reset() == 2 and storage.get("a") == 0


def test_concurrent_hits_are_counted_exactly():
    storage = ProcessMemoryStorage()
    barrier = threading.Barrier(8)

    def hit():
        barrier.wait()
        for _ in range(500):
            storage.incr("user:7", 60)

    threads = [threading.Thread(target=hit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert storage.get("user:7") == 4_000


def test_an_app_without_redis_counts_in_this_store_not_in_limits_memory_store(app):
    """limits' ``memory://`` store (5.8) re-reads its timer between creating and starting it, so two
    requests of one worker that both find the timer finished can start the same thread twice:
    ``RuntimeError: threads can only be started once``, an HTTP 500. This store starts no thread."""
    from api.extensions import limiter

    assert app.config.get("REDIS_URL") is None
    with app.app_context():
        assert type(limiter.storage) is ProcessMemoryStorage
    before = threading.active_count()
    storage = ProcessMemoryStorage()
    for i in range(1_000):
        storage.incr(f"user:{i}", 0.001)
    assert threading.active_count() == before
