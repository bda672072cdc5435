"""Redis, optional, behind short timeouts and a circuit breaker: its failure is never an outage.

Redis (``REDIS_URL``) only shares the rate limiter's counters between workers (api/ratelimit_storage.py);
revocations live in the database (service/auth.py), so no request waits for Redis to decide who calls.
Every Redis call goes through :func:`call`: connecting and each reply have ``REDIS_TIMEOUT_MS`` (default
100 ms) and no retries, and after ``REDIS_BREAKER_FAILURES`` failures in a row (default 3) the breaker
opens: no call is made at all (callers use their fallback at once) until ``REDIS_BREAKER_COOL_OFF_SECONDS``
(default 5) have passed; then one call is let through as a trial (half-open) and its success closes the
breaker, its failure opens it for another cool-off. Each process has its own breaker."""
from __future__ import annotations

import threading
import time
from typing import Callable, TypeVar

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class RedisUnavailable(Exception):
    """Redis was not asked (the breaker is open) or did not answer in time; use the fallback."""


class CircuitBreaker:
    """Opens after ``failures`` consecutive failures; while open, :meth:`allow` says no until ``cool_off``
    seconds have passed, then yes to one caller at a time (the trial; another after a further ``cool_off``
    if the trial never reports). Thread-safe."""

    def __init__(self, failures: int = 3, cool_off: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.failures = max(1, failures)
        self.cool_off = cool_off
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_at: float | None = None

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return CLOSED
            return HALF_OPEN if self._clock() - self._opened_at >= self.cool_off else OPEN

    def allow(self) -> bool:
        """Whether the caller may call Redis now (and then must report :meth:`success` or :meth:`failure`)."""
        with self._lock:
            if self._opened_at is None:
                return True
            now = self._clock()
            if now - self._opened_at < self.cool_off:
                return False
            if self._trial_at is not None and now - self._trial_at < self.cool_off:
                return False  # another caller's trial is under way
            self._trial_at = now
            return True

    def success(self) -> None:
        with self._lock:
            self._consecutive = 0
            self._opened_at = None
            self._trial_at = None

    def failure(self) -> None:
        with self._lock:
            self._consecutive += 1
            if self._opened_at is not None or self._consecutive >= self.failures:
                self._opened_at = self._clock()  # opened, or opened again by a failed trial
                self._trial_at = None


class RedisLink:
    """One Redis client (a connection pool shared by the process's threads) and its breaker."""

    def __init__(self, url: str, timeout_ms: int = 100, failures: int = 3, cool_off: float = 5.0):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = url
        self.timeout = timeout_ms / 1000
        self.errors = (redis.RedisError, OSError)
        # No retries (redis-py retries a timeout three times by default): the breaker decides when to try again.
        self.client = redis.Redis.from_url(url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout,
                                           retry=Retry(NoBackoff(), 0), health_check_interval=0)
        self.breaker = CircuitBreaker(failures, cool_off)

    def call(self, operation: Callable[[], T]) -> T:
        """``operation()`` (which uses :attr:`client`), or :class:`RedisUnavailable` at once while the breaker is
        open, or within about the timeout when Redis does not answer."""
        if not self.breaker.allow():
            raise RedisUnavailable("the Redis circuit breaker is open")
        try:
            result = operation()
        except self.errors as error:
            self.breaker.failure()
            raise RedisUnavailable(str(error)) from error
        self.breaker.success()
        return result

    def status(self) -> str:
        """``ok`` when Redis answers a PING now, else ``degraded`` (without asking while the breaker is open)."""
        try:
            self.call(self.client.ping)
        except RedisUnavailable:
            return "degraded"
        return "ok"


_link: RedisLink | None = None


def configure(url: str | None, timeout_ms: int = 100, failures: int = 3, cool_off: float = 5.0) -> None:
    """Use Redis at ``url`` (None: no Redis)."""
    global _link
    previous, _link = _link, (RedisLink(url, timeout_ms, failures, cool_off) if url else None)
    if previous is not None:
        previous.client.close()


def link() -> RedisLink | None:
    """The configured Redis, or None when ``REDIS_URL`` is not set."""
    return _link


def status() -> str:
    """``off`` (not configured), ``ok`` or ``degraded`` (configured but not answering: fallbacks in use)."""
    return "off" if _link is None else _link.status()
