"""The Redis circuit breaker (service/redis_client.py): opens after N failures in a row, asks nothing while
open, lets one trial through after the cool-off, and closes on its success."""
import threading

from service.redis_client import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_opens_after_consecutive_failures_only():
    breaker = CircuitBreaker(failures=3, cool_off=5, clock=Clock())
    breaker.failure()
    breaker.failure()
    breaker.success()  # a success in between starts the count again
    breaker.failure()
    breaker.failure()
    assert breaker.state == CLOSED and breaker.allow()
    breaker.failure()
    assert breaker.state == OPEN and not breaker.allow()


def test_one_trial_after_the_cool_off_then_closed_or_open_again():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cool_off=5, clock=clock)
    breaker.failure()
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.2
    assert breaker.state == HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.failure()  # the trial failed: open for another cool-off
    assert breaker.state == OPEN and not breaker.allow()
    clock.now += 5.1
    assert breaker.allow()
    breaker.success()
    assert breaker.state == CLOSED and breaker.allow() and breaker.allow()


def test_a_trial_that_never_reports_is_replaced_after_a_cool_off():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cool_off=5, clock=clock)
    breaker.failure()
    clock.now += 5
    assert breaker.allow()
    clock.now += 4
    assert not breaker.allow()
    clock.now += 1
    assert breaker.allow()


def test_threads_racing_for_the_trial_get_exactly_one():
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cool_off=5, clock=clock)
    breaker.failure()
    clock.now += 5
    start = threading.Barrier(16)
    allowed = []

    def ask():
        start.wait()
        allowed.append(breaker.allow())

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert allowed.count(True) == 1


def test_concurrent_failures_open_it_once_enough_have_failed():
    breaker = CircuitBreaker(failures=3, cool_off=5, clock=Clock())
    threads = [threading.Thread(target=breaker.failure) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert breaker.state == OPEN
