"""Time slot exceptions (X1, X2): docs/rules/time-slot-exceptions.md."""

from __future__ import annotations

import datetime

import pytest

from snavc.resolve.periods import exception_on, ranges_on

from .helpers import clean, only, pin

PERIOD = """\
kind: TimePeriod
id: office
at: client1
ranges:
  monday: ["08:00-18:00"]
  tuesday: ["08:00-18:00"]
  friday: ["08:00-18:00"]
exceptions:
"""


def period(compile_files, lines: str):
    result, res = compile_files({"periods.yaml": PERIOD + lines})
    return result, (res.tree.get("TimePeriod", "office") if res is not None else None)


EVERY_FORM = """\
  - date: 2026-12-25
    ranges: []
  - day: 25
    month: december
    ranges: ["10:00-12:00"]
  - day: 1
    ranges: ["09:00-10:00"]
  - weekday: friday
    nth: 1
    ranges: ["13:00-14:00"]
  - weekday: monday
    nth: -1
    month: may
    ranges: []
"""


def test_X1_every_form_is_accepted(compile_files):
    result, p = period(compile_files, EVERY_FORM)
    clean(result)
    assert [e.type for e in p.exceptions] == [
        "date",
        "day-of-year",
        "day-of-month",
        "nth-weekday",
        "nth-weekday",
    ]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (datetime.date(2026, 12, 25), []),  # X2: the calendar date wins over day+month
        (datetime.date(2027, 12, 25), ["10:00-12:00"]),  # day+month, every year
        (datetime.date(2026, 5, 1), ["09:00-10:00"]),  # a Friday: day of month beats Nth weekday
        (datetime.date(2026, 6, 5), ["13:00-14:00"]),  # first Friday of June
        (datetime.date(2026, 5, 25), []),  # last Monday of May
        (datetime.date(2026, 5, 18), ["08:00-18:00"]),  # a Monday without exception
        (datetime.date(2026, 6, 29), ["08:00-18:00"]),  # last Monday, but not of May
    ],
)
def test_X2_the_documented_priority_picks_the_ranges_of_a_day(compile_files, day, expected):
    result, p = period(compile_files, EVERY_FORM)
    assert ranges_on(p, day) == expected


def test_X2_no_exception_gives_the_weekday_ranges(compile_files):
    result, p = period(compile_files, "  - date: 2026-01-01\n")
    assert exception_on(p, datetime.date(2026, 1, 2)) is None
    assert ranges_on(p, datetime.date(2026, 1, 2)) == ["08:00-18:00"]


def test_X1_a_date_that_does_not_exist_is_an_error_at_its_position(compile_files):
    result, _ = period(compile_files, "  - date: 2026-02-30\n")
    d = only(result, "SNV217")
    assert pin(d) == ("error", "SNV217", "X1", "periods.yaml", 9, 11)
    assert "the date 2026-02-30 does not exist" in d.message


def test_X1_a_day_the_month_does_not_have_is_an_error(compile_files):
    result, _ = period(compile_files, "  - day: 31\n    month: april\n")
    d = only(result, "SNV217")
    assert pin(d) == ("error", "SNV217", "X1", "periods.yaml", 9, 10)
    assert "april has no day 31" in d.message
    result, _ = period(compile_files, "  - day: 29\n    month: february\n")
    clean(result)  # leap years have it


@pytest.mark.parametrize(
    "lines",
    ["  - ranges: []\n", "  - date: 2026-01-01\n    day: 3\n", "  - weekday: monday\n"],
)
def test_X1_an_exception_needs_exactly_one_form(compile_files, lines):
    result, _ = period(compile_files, lines)
    d = only(result, "SNV218")
    assert pin(d)[:5] == ("error", "SNV218", "X1", "periods.yaml", 9)


def test_X1_a_malformed_date_or_range_is_an_error(compile_files):
    result, _ = period(compile_files, "  - date: 25/12/2026\n")
    assert pin(only(result, "SNV205"))[3:] == ("periods.yaml", 9, 11)
    result, _ = period(compile_files, "  - day: 1\n    ranges: ['18:00-08:00']\n")
    assert pin(only(result, "SNV206"))[3:] == ("periods.yaml", 10, 14)


def test_X2_two_exceptions_naming_the_same_days_is_an_error(compile_files):
    result, _ = period(compile_files, "  - day: 1\n  - day: 1\n    ranges: []\n")
    d = only(result, "SNV219")
    assert pin(d) == ("error", "SNV219", "X2", "periods.yaml", 10, 5)
