"""Time formats: what is written reads back; junk reads as None, never an exception."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chronus_lab.model.timestamps import TextTime, TokenTime, time_format

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


def test_interleave_layout(tiny_tok):
    from chronus_lab.model.timestamps import AUDIO, FEATURE, TEXT, TIME, VISION, interleave

    lay = interleave(tiny_tok, TokenTime(), times=[0.0, 0.5, 1.0], n_vision=4, n_audio=2,
                     question="When is the red circle on screen?", answer="<t_1> <t_2>")
    clip_part = [(m, s) for m, s in zip(lay.modality, lay.slice_idx) if s >= 0]
    assert clip_part == [(m, k) for k in range(3) for m in [TIME] + [VISION] * 4 + [AUDIO] * 2]
    assert lay.ids[0] == tiny_tok.bos_token_id and lay.ids[-1] == tiny_tok.eos_token_id
    answer_ids = [i for i, a in zip(lay.ids, lay.is_answer) if a]
    assert TokenTime().parse_times(tiny_tok.decode(answer_ids[:-1])) == [0.5, 1.0]
    assert all(i == FEATURE for i, m in zip(lay.ids, lay.modality) if m in (VISION, AUDIO))
    # text timestamps cost more positions; no time format costs none
    text = interleave(tiny_tok, TextTime(), [0.0, 0.5, 1.0], 4, 2, "q?")
    none = interleave(tiny_tok, None, [0.0, 0.5, 1.0], 4, 2, "q?")
    assert TIME not in none.modality and len(text) > len(interleave(tiny_tok, TokenTime(), [0.0, 0.5, 1.0], 4, 2, "q?")) > len(none)
    first = interleave(tiny_tok, TokenTime(), [0.0, 0.5, 1.0], 4, 2, "q?", question_first=True)
    assert first.modality[1] == TEXT and first.slice_idx[-1] == 2
