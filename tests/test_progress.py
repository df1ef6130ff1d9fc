"""Progress on a terminal (issue 11): shown on standard error only when it is a terminal
and not in CI; never in captured output. Driven by hand here (no timing): the timer is
recorded, not armed, and each tick is called directly."""

from __future__ import annotations

import io
import signal

import pytest

from snavc import progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture
def timer(monkeypatch):
    calls = []
    monkeypatch.setattr(progress.signal, "setitimer", lambda *a: calls.append(a))
    monkeypatch.setattr(progress.time, "monotonic", lambda: 100.0)
    monkeypatch.delenv("CI", raising=False)
    yield calls
    progress.stop()


def test_only_on_a_terminal_and_not_in_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert progress.wanted(Terminal()) is True
    assert progress.wanted(io.StringIO()) is False
    monkeypatch.setenv("CI", "true")
    assert progress.wanted(Terminal()) is False


def test_progress_line_rewritten_in_place_then_erased(timer, monkeypatch):
    stream = Terminal()
    progress.start(stream)
    assert timer == [(signal.ITIMER_REAL, progress.DELAY, progress.EVERY)]
    progress.stage("reading 20,000 files")
    monkeypatch.setattr(progress.time, "monotonic", lambda: 112.4)
    progress._tick(signal.SIGALRM, None)
    progress.stage("checking the rules")
    monkeypatch.setattr(progress.time, "monotonic", lambda: 130.0)
    progress._tick(signal.SIGALRM, None)
    progress.stop()
    assert timer[-1] == (signal.ITIMER_REAL, 0)
    assert stream.getvalue() == (
        "\r\x1b[Ksnavc: reading 20,000 files… 12 s\r\x1b[Ksnavc: checking the rules… 30 s\r\x1b[K"
    )


def test_a_short_run_leaves_nothing(timer):
    stream = Terminal()
    progress.start(stream)
    progress.stop()  # before the first tick (2 s)
    assert stream.getvalue() == ""


def test_nothing_when_not_a_terminal(timer):
    stream = io.StringIO()
    progress.start(stream)
    assert timer == []
    progress.stop()
    assert stream.getvalue() == ""
