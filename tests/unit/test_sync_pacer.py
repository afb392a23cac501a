"""The pace a sync keeps across every destination: RATE puts a second after a burst of one second's worth,
and the puts a copy made beyond the one it took (an index's children) delay the next image."""

from __future__ import annotations

from ecrtool.service.sync import Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_burst_of_one_second_then_the_rate() -> None:
    clock = Clock()
    pacer = Pacer(10, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        pacer.take()
    assert clock.now == 0
    for _ in range(20):
        pacer.take()
    assert abs(clock.now - 2.0) < 1e-6


def test_puts_charged_after_a_copy_delay_the_next_image() -> None:
    clock = Clock()
    pacer = Pacer(2, clock=clock, sleep=clock.sleep)
    pacer.take()
    pacer.charge(4)  # an index of four children went in with it
    pacer.take()
    assert abs(clock.now - 2.0) < 1e-6
