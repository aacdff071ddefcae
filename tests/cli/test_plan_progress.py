"""The progress line of a long plan on a terminal: namespaces done of all, after two seconds."""

from __future__ import annotations

import io

from retention.pipeline import NamespaceProgress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_short_plan_draws_nothing() -> None:
    out, clock = io.StringIO(), Clock()
    progress = NamespaceProgress(out, clock)
    for done in range(1, 11):
        clock.now += 0.1
        progress(done, 10)
    progress.finish()
    assert out.getvalue() == ""


def test_a_long_plan_redraws_at_most_five_times_a_second_and_ends_the_line() -> None:
    out, clock = io.StringIO(), Clock()
    progress = NamespaceProgress(out, clock)
    for done in range(1, 10_001):
        clock.now += 0.001  # ten seconds in all
        progress(done, 10_000)
    progress.finish()
    frames = out.getvalue().split("\r")[1:]
    assert frames[0].startswith("namespaces planned: ") and frames[0].endswith(" of 10,000")
    assert 35 <= len(frames) <= 42  # about 8 s shown, at most 5 redraws a second, plus the end
    assert frames[-1] == "namespaces planned: 10,000 of 10,000\n"
