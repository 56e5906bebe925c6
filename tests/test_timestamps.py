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


def test_question_again_writes_the_question_on_both_sides_of_the_clip(tiny_tok):
    from chronus_lab.model.timestamps import interleave

    q = "When is the red circle on screen?"
    q_ids = tiny_tok(f" {q}", add_special_tokens=False).input_ids
    lay = interleave(tiny_tok, TokenTime(), [0.0, 0.5], 1, 1, q, "<t_1> <t_2>", question_first=True,
                     question_again=True)
    clip = [i for i, s in enumerate(lay.slice_idx) if s >= 0]
    before, after = lay.ids[1:clip[0]], lay.ids[clip[-1] + 1:]
    assert before == q_ids and after[:len(q_ids)] == q_ids
    assert not any(lay.is_answer[: clip[-1] + 1 + len(q_ids)])  # neither copy is trained as an answer
    assert all(lay.is_answer[clip[-1] + 1 + len(q_ids):])


def test_question_again_needs_question_first():
    from chronus_lab.model.config import OmniConfig, OmniConfigError

    with pytest.raises(OmniConfigError, match="question_first"):
        OmniConfig.tiny(question_again=True)
    assert OmniConfig.tiny(question_first=True, question_again=True).question_again


def test_the_planner_leaves_room_for_the_longest_question_and_answer(tiny_tok):
    from chronus_lab.train.plan import QUESTION_TOKENS, TEXT_TOKENS
    from chronus_lab.world import WorldConfig, make_clip, make_tasks
    from chronus_lab.world.time_format import TextTime, TokenTime

    n = lambda text: len(tiny_tok(f" {text}", add_special_tokens=False).input_ids)  # noqa: E731
    tasks = [t for i in range(40) for fmt in (TokenTime(), TextTime())
             for t in make_tasks(make_clip(WorldConfig(), 3, i), seed=3, fmt=fmt)]
    assert {t.kind for t in tasks} >= {"avfc", "avcap", "igatl", "arig"}  # the long ones are among them
    assert max(n(t.question) for t in tasks) <= QUESTION_TOKENS
    assert max(n(t.question) + n(t.answer) + 1 for t in tasks) <= TEXT_TOKENS


def test_time_ids_are_the_tokenizers_own_even_after_tokens_are_added():
    """``interleave`` remembers time strings' ids; the memo must never answer what the tokenizer would not."""
    from chronus_lab.model.config import OmniConfig
    from chronus_lab.model.timestamps import time_ids
    from chronus_lab.model.tokenizer import load_tokenizer

    tok = load_tokenizer(OmniConfig.tiny().tokenizer)  # a copy of its own: a token is added below
    text = "second{777.5}"
    before = time_ids(tok, text)
    assert before == tok(text, add_special_tokens=False).input_ids
    before.append(-5)  # the caller's list is its own: the memo is unchanged
    assert time_ids(tok, text) == tok(text, add_special_tokens=False).input_ids
    tok.add_tokens([text])
    after = time_ids(tok, text)
    assert after == tok(text, add_special_tokens=False).input_ids == [len(tok) - 1] != before[:-1]
