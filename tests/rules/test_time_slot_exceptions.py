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


@pytest.mark.parametrize(
    "lines, why",
    [
        (  # every month's first monday, and May's: the first monday of May twice
            "  - {weekday: monday, nth: 1, ranges: ['10:00-22:00']}\n"
            "  - {weekday: monday, nth: 1, month: may, ranges: []}\n",
            "name the same days",
        ),
        (  # a month's fifth friday is its last
            "  - {weekday: friday, nth: 5, ranges: []}\n"
            "  - {weekday: friday, nth: -1, ranges: ['08:00-10:00']}\n",
            "the fifth friday of a month that has one is its last",
        ),
    ],
)
def test_X2_two_nth_weekday_exceptions_that_can_name_one_day_is_an_error(compile_files, lines, why):
    """Which of the two applies would be the list's order, which X2 does not give (the
    first listed won, silently)."""
    result, _ = period(compile_files, lines)
    d = only(result, "SNV219")
    assert pin(d) == ("error", "SNV219", "X2", "periods.yaml", 10, 5) and why in d.message


def test_X2_nth_weekday_exceptions_of_other_months_or_weekdays_are_apart(compile_files):
    result, _ = period(
        compile_files,
        "  - {weekday: monday, nth: 1, month: may, ranges: []}\n"
        "  - {weekday: monday, nth: 1, month: june, ranges: []}\n"
        "  - {weekday: tuesday, nth: 1, ranges: []}\n"
        "  - {weekday: monday, nth: 2, ranges: []}\n",
    )
    clean(result)


def test_X1_nth_0_names_no_day(compile_files):
    result, _ = period(compile_files, "  - {weekday: monday, nth: 0, ranges: []}\n")
    d = only(result, "SNV217")
    assert pin(d)[:4] == ("error", "SNV217", "X1", "periods.yaml") and "names no day" in d.message


def test_X1_an_exceptions_ranges_may_not_overlap(compile_files):
    """As a weekday's (input-language.md: ranges of one day may touch, not overlap)."""
    result, _ = period(compile_files, "  - {day: 5, ranges: ['08:00-12:00', '11:00-13:00']}\n")
    d = only(result, "SNV207")
    assert pin(d)[1:] == ("SNV207", None, "periods.yaml", 9, 38)
    result, _ = period(compile_files, "  - {day: 5, ranges: ['08:00-12:00', '12:00-13:00']}\n")
    clean(result)


def test_X1_a_malformed_date_says_a_date_is_expected(compile_files):
    result, _ = period(compile_files, "  - date: '2026/05/01'\n")
    assert "expected a date: YYYY-MM-DD" in only(result, "SNV205").message
