"""An in-process store for the fixed-window rate limits, for deployments without Redis.

The ``limits`` library's ``memory://`` store starts a timer thread every 10 ms while requests are
counted (to drop expired windows); under load each request that finds the timer finished pays for a
thread start and waits for it. Worse, it reads its timer attribute again between creating and
starting a timer, so two threads of one worker can start the same timer twice and the request fails
with ``RuntimeError: threads can only be started once`` (reproduced with two threads calling ``incr``
in a loop; the likely cause of the one HTTP 500 once seen in a booking burst). This store keeps the
same counters and drops an expired window when its key is read, or in a sweep of all keys at most
once per ``SWEEP_SECONDS``. It serves the fixed-window strategy (Flask-Limiter's default, the one
this API uses); counts are per process, as with ``memory://``: set ``REDIS_URL`` to share them
between workers.
"""
from __future__ import annotations

import threading
import time

from flask import has_request_context, request
from limits.storage import Storage

SWEEP_SECONDS = 60.0


class ProcessMemoryStorage(Storage):
    STORAGE_SCHEME = ["process-memory"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self._counts: dict[str, int] = {}
        self._expiry: dict[str, float] = {}
        self._lock = threading.Lock()
        self._next_sweep = time.time() + SWEEP_SECONDS
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return ValueError

    def _live(self, key: str, now: float) -> bool:
        """Under the lock: drop the key's window if it has expired; True if it is still running."""
        if self._expiry.get(key, 0.0) > now:
            return True
        self._counts.pop(key, None)
        self._expiry.pop(key, None)
        return False

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep:
            return
        self._next_sweep = now + SWEEP_SECONDS
        for key in [key for key, expiry in self._expiry.items() if expiry <= now]:
            self._counts.pop(key, None)
            self._expiry.pop(key, None)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._lock:
            self._sweep(now)
            if not self._live(key, now):
                self._expiry[key] = now + expiry
            count = self._counts.get(key, 0) + amount
            self._counts[key] = count
            return count

    def get(self, key: str) -> int:
        with self._lock:
            return self._counts.get(key, 0) if self._live(key, time.time()) else 0

    def get_expiry(self, key: str) -> float:
        now = time.time()
        with self._lock:
            return self._expiry[key] if self._live(key, now) else now

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._lock:
            count = len(self._counts)
            self._counts.clear()
            self._expiry.clear()
            return count

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
            self._expiry.pop(key, None)


class RedisOrProcessMemoryStorage(Storage):
    """The fixed-window counters in Redis (``REDIS_URL``, shared by every worker) while it answers, else in
    this process (:class:`ProcessMemoryStorage`): a Redis that stalls or is down costs a request at most
    ``REDIS_TIMEOUT_MS`` until the breaker opens (service/redis_client.py), then nothing. While Redis is
    away each process counts for itself (a client may get up to a limit per worker); counts start afresh
    in whichever store takes over. Flask-Limiter's own fallback (``RATELIMIT_IN_MEMORY_FALLBACK_ENABLED``)
    is not used: it falls back to ``memory://`` (the store this module replaces, see above) and asks the
    dead storage again with its own back-off, with no timeout of its own."""

    STORAGE_SCHEME = ["redis-or-process-memory"]
    KEY_PREFIX = "linli:limits"

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        self.fallback = ProcessMemoryStorage()
        self._shared = None  # (link, limits' RedisStorage over the link's connection pool, the script)
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self):
        return ValueError

    def _redis(self):
        """(the link, limits' RedisStorage over the link's connection pool, the counting script), or Nones."""
        from limits.storage import RedisStorage

        from service import redis_client

        link = redis_client.link()
        if link is None:
            return None, None, None
        if self._shared is None or self._shared[0] is not link:
            self._shared = (link, RedisStorage(link.url, connection_pool=link.client.connection_pool,
                                               key_prefix=self.KEY_PREFIX), link.client.register_script(_INCR))
        return self._shared

    def _either(self, name: str, *args):
        from service.redis_client import RedisUnavailable

        link, shared, _ = self._redis()
        if link is not None:
            try:
                return link.call(lambda: getattr(shared, name)(*args))
            except RedisUnavailable:
                pass
        return getattr(self.fallback, name)(*args)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Count a hit; in Redis the count and the window's time to live come back together (one round trip), and
        the request remembers them: the rate-limit headers that follow ask ``get`` and ``get_expiry`` of the same
        key, which then need no round trip of their own."""
        from service.redis_client import RedisUnavailable

        seen = _seen()
        seen.pop(key, None)
        link, shared, script = self._redis()
        if link is not None:
            try:
                count, ttl = link.call(lambda: script(keys=[shared.prefixed_key(key)], args=[int(expiry), amount]))
            except RedisUnavailable:
                pass
            else:
                seen[key] = (int(count), max(int(ttl), 0) + time.time())
                return int(count)
        return self.fallback.incr(key, expiry, amount)

    def get(self, key: str) -> int:
        found = _seen().get(key)
        return found[0] if found is not None else self._either("get", key)

    def get_expiry(self, key: str) -> float:
        found = _seen().get(key)
        return found[1] if found is not None else self._either("get_expiry", key)

    def check(self) -> bool:
        return True  # always able to count, in Redis or here

    def reset(self) -> int | None:
        _seen().clear()
        count = self.fallback.reset() or 0
        link, shared, _ = self._redis()
        if link is not None:
            from service.redis_client import RedisUnavailable

            try:
                count += link.call(shared.reset) or 0
            except RedisUnavailable:
                pass
        return count

    def clear(self, key: str) -> None:
        _seen().pop(key, None)
        self.fallback.clear(key)
        self._either("clear", key)


# limits' incr_expire.lua (a window's first hit sets its expiry), answering the window's time to live as well.
_INCR = """
local amount = tonumber(ARGV[2])
local current = redis.call("incrby", KEYS[1], amount)
if tonumber(current) == amount then
    redis.call("expire", KEYS[1], ARGV[1])
end
return {current, redis.call("ttl", KEYS[1])}
"""


def _seen() -> dict:
    """This request's counts from Redis: key → (count, window's end); outside a request, nothing is kept."""
    if not has_request_context():
        return {}
    return request.environ.setdefault("linli.limit_counts", {})
