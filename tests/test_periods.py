from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpiflow.errors import PeriodError
from kpiflow.periods import Period, month, parse_period, parse_quarter, quarter, year


@pytest.mark.parametrize("text", ["2017/18 Q2", "Q2 2017/18", "2017-18 Q2", "2017/2018 Q2", "q2 2017/18",
                                  " 2017/18  Q2 "])
def test_quarter_forms_normalise(text: str) -> None:
    assert parse_period(text).label == "2017/18 Q2"


@pytest.mark.parametrize("value", ["2017-09", "Sep 2017", "September 2017", "sept 2017",
                                   dt.date(2017, 9, 30), dt.datetime(2017, 9, 1, 12, 0)])
def test_month_forms_normalise(value: object) -> None:
    assert parse_period(value).label == "2017-09"


@pytest.mark.parametrize("text", ["2017/18", "2017/2018", "2017-2018"])
def test_year_forms_normalise(text: str) -> None:
    assert parse_period(text).label == "2017/18"


@pytest.mark.parametrize("text", ["2017/19", "Q5 2017/18", "2017-13", "Smarch 2017", "", "next quarter", "2017"])
def test_anything_else_is_an_error_that_names_the_text(text: str) -> None:
    with pytest.raises(PeriodError) as err:
        parse_period(text)
    assert text.strip() in str(err.value) or "no period" in str(err.value)


def test_quarter_one_is_april_to_june() -> None:
    q1 = quarter(2017, 1)
    assert [m.label for m in q1.months()] == ["2017-04", "2017-05", "2017-06"]
    assert month(2018, 3).quarter == quarter(2017, 4)
    assert quarter(2017, 2).end_date == dt.date(2017, 9, 30)
    assert year(2017).end_date == dt.date(2018, 3, 31)


def test_ordering_and_stepping() -> None:
    assert quarter(2017, 4).step(1) == quarter(2018, 1)
    assert quarter(2017, 1).step(-1) == quarter(2016, 4)
    assert month(2017, 3).step(1) == month(2017, 4)
    assert month(2017, 12).step(1) == month(2018, 1)
    assert sorted([year(2017), quarter(2017, 4), month(2018, 3), quarter(2017, 1)]) == [
        quarter(2017, 1), month(2018, 3), quarter(2017, 4), year(2017)]
    assert quarter(2017, 2).short == "Q2 2017/18"
    assert quarter(2017, 2).file_label == "2017-18_Q2"


def test_parse_quarter_refuses_a_month() -> None:
    with pytest.raises(PeriodError, match="not a quarter"):
        parse_quarter("2017-09")


periods = st.one_of(
    st.builds(lambda fy: Period("year", fy), st.integers(1990, 2090)),
    st.builds(lambda fy, n: Period("quarter", fy, n), st.integers(1990, 2090), st.integers(1, 4)),
    st.builds(lambda fy, n: Period("month", fy, n), st.integers(1990, 2090), st.integers(1, 12)),
)


@given(periods)
def test_every_label_parses_back_to_itself(p: Period) -> None:
    assert parse_period(p.label) == p
    assert parse_period(p.short) == p


@given(periods, st.integers(-50, 50))
def test_step_is_invertible_and_ordered(p: Period, k: int) -> None:
    assert p.step(k).step(-k) == p
    if k > 0:
        assert p.step(k) > p
