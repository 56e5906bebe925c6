"""Time formats: what is written reads back; junk reads as None, never an exception."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronus_lab.timestamps import TextTime, TokenTime, time_format

TICKS = st.integers(min_value=0, max_value=2000)


@given(TICKS, TICKS)
def test_text_span_round_trips(a, b):
    fmt = TextTime()
    s, e = sorted((a * 0.5, b * 0.5))
    assert fmt.parse_span(fmt.span(s, e)) == (s, e)


@given(TICKS, TICKS)
def test_token_span_round_trips(a, b):
    fmt = TokenTime()
    s, e = sorted((a * 0.5, b * 0.5))
    assert fmt.parse_span(fmt.span(s, e)) == (s, e)


def test_formats_look_like_the_paper_and_the_code():
    assert TextTime().span(188.9, 257.0) == "second{188.9}-second{257.0}"
    assert TokenTime().span(1.0, 3.5) == "<t_2> <t_7>"


@given(st.text())
def test_parse_never_raises_on_junk(text):
    for fmt in (TextTime(), TokenTime()):
        out = fmt.parse_span(text)
        assert out is None or out[0] <= out[1]


@pytest.mark.parametrize("text, span", [
    ("second{4.0}-second{2.0}", (2.0, 4.0)),        # reversed → ordered
    ("junk second{1.5} more junk second{x} second{3.0}!", (1.5, 3.0)),
    ("second{1.5}", None),                          # only one time
    ("", None),
])
def test_text_parse_cases(text, span):
    assert TextTime().parse_span(text) == span


def test_lookup_by_name():
    assert isinstance(time_format("token"), TokenTime)
    with pytest.raises(ValueError, match="unknown time format"):
        time_format("morse")
