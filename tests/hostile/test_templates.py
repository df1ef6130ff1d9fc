"""A user's report template within a budget (issue 10 item 4): a template that would loop
for hours, compute a huge number or print gigabytes stops with a clear error, exit 2
(a bad --template is a usage error, like one that does not parse), nothing written.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from snavc.review import report

from .helpers import SEED


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> tuple[Path, Path]:
    from .helpers import snavc

    root = tmp_path_factory.mktemp("builds")
    shutil.copytree(SEED, root / "seed")
    for name in ("old", "new"):
        assert snavc("build", root / "seed", "-o", root / name).sane().code == 0
    return root / "old", root / "new"


def _render(snavc, builds, tmp_path, source: str, *extra):
    template = tmp_path / "t.j2"
    template.write_text(source, encoding="utf-8")
    return snavc("diff", *builds, "--template", template, *extra).sane()


@pytest.mark.parametrize(
    "source, stopped",
    [
        (
            "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
            "range() over 1,000,000 items in all",
        ),
        ("{{ 10**(10**8) }}", "10 ** 100000000 would be over 16 MiB"),
        ("{% set n = 10**8 %}{{ 7**n }}", "7 ** 100000000 would be over 16 MiB"),
        ("{{ 'x' * 10**9 }}", "a repeated string or list would be over 16 MiB"),
        ("{{ [1] * 10**9 }}", "a repeated string or list would be over 16 MiB"),
        ("{{ 'x'|center(10**9) }}", "|center would be over 16 MiB"),
        ("{{ 'x'|indent(10**9) }}", "|indent would be over 16 MiB"),
        ("{{ 'x'.ljust(10**9) }}", ".ljust() would be over 16 MiB"),
        ("{{ '%0999999999d'|format(1) }}", "|format would be over 16 MiB"),
        ("{{ 1.5 ** 100000 }}", "1.5 ** 100000 overflows"),
        (
            "{% for i in range(99999) %}{% for j in range(9) %}"
            "{{ 'x' * 99 }}{% endfor %}{% endfor %}",
            "output over 64 MiB",
        ),
        ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recursion too deep"),
    ],
    ids=[
        "nested-range",
        "power",
        "power-of-variable",
        "repeat-string",
        "repeat-list",
        "center",
        "indent",
        "ljust",
        "format-width",
        "float-power",
        "output",
        "recursion",
    ],
)
def test_a_template_over_its_budget_stops(snavc, builds, tmp_path, monkeypatch, source, stopped):
    monkeypatch.setattr(report, "OUTPUT_BYTES", 64 * 2**20)
    if "'x' * 99" in source:
        monkeypatch.setattr(report, "RANGE_ITEMS", 10**7)  # the output cap comes first
        monkeypatch.setattr(report, "OUTPUT_BYTES", 2**20)
        stopped = "output over 1 MiB"
    out = tmp_path / "report.txt"
    run = _render(snavc, builds, tmp_path, source, "-o", out)
    assert run.code == 2, run.stdout + run.stderr
    assert run.stderr == f"Error: template {tmp_path / 't.j2'}: stopped: {stopped}\n"
    assert run.stdout == ""
    assert not out.exists()


def test_the_wall_clock_stops_what_nothing_else_counts(snavc, builds, tmp_path, monkeypatch):
    """Loops over the data itself are not range() items: the timer stops them."""
    monkeypatch.setattr(report, "TIME_SECONDS", 0.2)
    source = (
        "{% set xs = 'x' * 400 %}{% for a in xs %}{% for b in xs %}"
        "{% for c in xs %}{% endfor %}{% endfor %}{% endfor %}"
    )
    run = _render(snavc, builds, tmp_path, source, "--detailed-exitcode")
    assert run.code == 1, run.stdout + run.stderr  # under --detailed-exitcode, 2 is "changes"
    assert run.stderr.endswith("stopped: still rendering after 0.2 seconds\n")


def test_within_budget_renders(snavc, builds, tmp_path):
    source = (
        "{{ 2 ** 10 }} {{ 'ab' * 3 }} {{ range(99999)|length }} {{ range(3)|join(',') }}"
        "{% for i in range(3) %}{% for j in range(3) %}.{% endfor %}{% endfor %}"
        " {{ 'x'|center(5) }}|"
    )
    run = _render(snavc, builds, tmp_path, source)
    assert run.code == 0, run.stderr
    assert run.stdout == "1024 ababab 99999 0,1,2......... " + "  x  |"


def test_a_nested_range_as_a_subprocess_ends(builds, tmp_path):
    """The real command, not a test double: it ends, with exit 2, well within a minute."""
    from .helpers import snavc

    template = tmp_path / "t.j2"
    template.write_text(
        "{% for i in range(99999) %}{% for j in range(99999) %}{{ i }}{% endfor %}{% endfor %}"
    )
    run = snavc("diff", *builds, "--template", template, subprocess=True, timeout=60).sane()
    assert run.code == 2
    assert "stopped: range() over 1,000,000 items in all" in run.stderr


def test_a_timer_of_the_embedding_program_is_put_back(snavc, builds, tmp_path):
    import signal

    def handler(*args):
        pass

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, 100)
    try:
        assert _render(snavc, builds, tmp_path, "{{ 1 }}").code == 0
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 90 < left <= 100
        assert signal.getsignal(signal.SIGALRM) is handler
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
