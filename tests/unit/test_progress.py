"""The progress rate limiter: a publish every `step` bytes at most, and never two within `min_interval_s`."""

from __future__ import annotations

from lambdashare.domain.progress import ProgressThrottle

MIB = 1024 * 1024


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_due_once_per_step_of_bytes() -> None:
    # GIVEN a throttle of 64 MiB steps and a clock that moves a whole second between chunks
    clock = FakeClock()
    throttle = ProgressThrottle(64 * MIB, 0.25, clock)
    due = []
    # WHEN 4 MiB chunks go by up to 256 MiB
    for done in range(4 * MIB, 256 * MIB + 1, 4 * MIB):
        clock.now += 1
        if throttle.due(done):
            due.append(done // MIB)
    # THEN it is due at 64, 128, 192 and 256 MiB only
    assert due == [64, 128, 192, 256]


def test_progress_is_due_at_most_once_per_interval() -> None:
    # GIVEN a throttle with a 1-byte step (every chunk would do) and 0.25 s between publishes
    clock = FakeClock()
    throttle = ProgressThrottle(1, 0.25, clock)
    # WHEN ten chunks go by within 0.1 s
    first = [throttle.due(n) for n in range(1, 11)]
    # THEN only the first is due
    assert first == [True] + [False] * 9
    # AND once the interval has passed, the next one is due again (then waits again)
    clock.now += 0.25
    assert [throttle.due(n) for n in (11, 12)] == [True, False]


def test_nothing_is_due_before_the_first_step() -> None:
    # GIVEN a 64 MiB step WHEN less than that is hashed THEN nothing is due
    throttle = ProgressThrottle(64 * MIB, 0.25, FakeClock())
    assert not throttle.due(64 * MIB - 1)
    assert throttle.due(64 * MIB)
