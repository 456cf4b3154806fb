"""Progress bars appear for people (a terminal, or asked for) and never in logs or pipes."""

import io
import math

from theta.progress import progress_bar


def test_no_bar_when_stderr_is_not_a_terminal(monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert progress_bar(10, unit="step") is None


def test_quiet_wins_even_on_a_terminal(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr("sys.stderr", Terminal())
    assert progress_bar(10, unit="step", enabled=False) is None
    assert progress_bar(10, unit="step") is not None


def test_an_asked_for_bar_counts_units_and_knows_its_total(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    bar = progress_bar(4, unit="trial", enabled=True, initial=1)
    bar.update(3)
    bar.close()
    assert bar.n == 4 and bar.total == 4
    assert "trial" in err.getvalue()
    unbounded = progress_bar(math.inf, unit="step", enabled=True)
    assert unbounded.total is None
    unbounded.close()
