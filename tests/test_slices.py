"""The slice plan: fixed, uniform and "at most N" slices, checked against indices worked out by hand,
times that round-trip through both time formats, and one clear error for each kind of bad input."""
import numpy as np
import pytest
import torch

from chronus_lab.errors import ConfigError
from chronus_lab.model.config import OmniConfig
from chronus_lab.world import SlicePlan, SlicePlanError, WorldConfig, make_clip, slice_times, slices
from chronus_lab.world.config import COLOURS
from chronus_lab.world.time_format import TextTime, TokenTime, time_format


def clip_of(seconds: float, seed: int = 0):
    return make_clip(WorldConfig.lengths(seconds, seconds), seed, 0)


def test_fixed_plan_is_the_original_half_second_grid():
    c = clip_of(8.0)  # 32 frames at 4 fps, 128,000 samples at 16 kHz
    parts = slices(c, SlicePlan())
    assert len(parts) == 16
    assert [p.frames for p in parts[:3]] == [(0,), (2,), (4,)]
    assert [p.samples for p in parts[:3]] == [(0, 8000), (8000, 16000), (16000, 24000)]
    assert (parts[-1].start, parts[-1].end, parts[-1].samples) == (7.5, 8.0, (120000, 128000))
    assert slices(c, 0.5) == parts  # a number still means fixed slices of that width


def test_uniform_plan_by_hand():
    """10 uniform slices of an 8 s clip: edges at the frames nearest k · 32 / 10 (worked out by hand)."""
    c = clip_of(8.0)
    parts = slices(c, SlicePlan(slices_per_clip=10))
    assert [p.frames[0] for p in parts] == [0, 3, 6, 10, 13, 16, 19, 22, 26, 29]
    assert [p.start for p in parts] == [0.0, 0.75, 1.5, 2.5, 3.25, 4.0, 4.75, 5.5, 6.5, 7.25]
    assert parts[-1].end == 8.0
    # audio: a 0.5 s window (8,000 samples) from each slice's start = frame · 4,000 samples
    assert [p.samples for p in parts[:4]] == [(0, 8000), (12000, 20000), (24000, 32000), (40000, 48000)]
    # the last slice starts at 7.25 s: its window 116,000–124,000 ends inside the clip
    assert parts[-1].samples == (116000, 124000)
    # 16 uniform slices of a 12 s clip (48 frames): exactly 3 frames = 0.75 s each
    twelve = slices(clip_of(12.0), SlicePlan(slices_per_clip=16, frames_per_slice=3))
    assert [p.frames for p in twelve[:2]] == [(0, 1, 2), (3, 4, 5)]
    assert [p.samples for p in twelve[:2]] == [(0, 8000), (12000, 20000)]


def test_a_short_last_slice_reads_a_window_moved_back_inside_the_clip():
    c = clip_of(4.0)  # 16 frames, 64,000 samples; 16 slices of one frame (0.25 s) each
    parts = slices(c, SlicePlan(slices_per_clip=16))
    assert parts[-1].start == 3.75 and parts[-1].samples == (56000, 64000)  # 3.5–4.0 s, not past the end


@pytest.mark.parametrize("seconds", [4.0, 5.5, 8.0, 12.0, 17.5, 24.0])
def test_uniform_slices_tile_any_clip_with_the_same_count(seconds):
    c = clip_of(seconds, seed=3)
    parts = slices(c, SlicePlan(slices_per_clip=16))
    assert len(parts) == 16
    assert parts[0].start == 0 and parts[-1].end == seconds
    assert all(a.end == b.start for a, b in zip(parts, parts[1:]))  # no gap, no overlap
    widths = {round((p.end - p.start) * c.fps) for p in parts}
    assert max(widths) - min(widths) <= 1  # uniform up to one frame
    # what a slice shows is what the frame at its start shows: each seen object's colour is drawn in its box
    for p in parts:
        frame = c.frames[p.frames[0]].astype(int)
        for ev in p.objects:
            x0, y0, x1, y1 = (np.array(p.box_of(ev)) * frame.shape[0]).round().astype(int)
            rgb = np.array(COLOURS[ev.object.split(" ")[0]])
            assert (np.abs(frame[y0:y1, x0:x1] - rgb).sum(-1) == 0).any(), (seconds, p.index, ev.object)


def test_at_most_n_is_fixed_until_it_would_exceed_n():
    assert SlicePlan(max_slices=64).n_slices(8.0, 4) == 16  # fixed 0.5 s slices fit
    long = SlicePlan(max_slices=64).times(40.0, 4)  # 80 fixed slices would not: 64 uniform instead
    assert len(long) == 65 and long[-1] == 40.0
    assert max(b - a for a, b in zip(long, long[1:])) == 0.75 and min(b - a for a, b in zip(long, long[1:])) == 0.5


def test_slice_times_round_trip_through_both_time_formats():
    """Times between two <t_k> are written by the nearest one (ties up): the error is at most half a
    quantum for tokens and 0.05 s for text; times on the 0.5 s grid are exact in both."""
    token, text = TokenTime(), TextTime()
    for seconds in (4.0, 7.5, 13.0, 24.0):
        for t in slice_times(clip_of(seconds), SlicePlan(slices_per_clip=16)):
            assert abs(token.parse_times(token.time(t))[0] - t) <= 0.25 + 1e-9
            assert abs(text.parse_times(text.time(t))[0] - t) <= 0.05 + 1e-9
    grid = [k * 0.5 for k in range(49)]
    assert [token.parse_times(token.time(t))[0] for t in grid] == grid
    assert [text.parse_times(text.time(t))[0] for t in grid] == grid
    assert token.time(0.75) == "<t_2>" and token.time(1.25) == "<t_3>"  # ties up, not half to even
    assert text.time(0.25) == "second{0.3}" and text.time(0.75) == "second{0.8}"


def test_interleave_writes_each_slices_real_time(tiny_tok):
    from chronus_lab.model.timestamps import TIME, interleave

    c = clip_of(12.0)
    times = slice_times(c, SlicePlan(slices_per_clip=16))  # 0, 0.75, 1.5, …
    lay = interleave(tiny_tok, TextTime(), times, 1, 1, "q?")
    written = [tiny_tok.decode([i for i, m, k in zip(lay.ids, lay.modality, lay.slice_idx) if m == TIME and k == j])
               for j in range(16)]
    # 16 slices of 0.75 s, written with one decimal (ties up), worked out by hand
    assert [TextTime().parse_times(w)[0] for w in written] == [0.0, 0.8, 1.5, 2.3, 3.0, 3.8, 4.5, 5.3, 6.0, 6.8,
                                                                7.5, 8.3, 9.0, 9.8, 10.5, 11.3]
    with pytest.raises(TypeError, match="start times"):
        interleave(tiny_tok, TextTime(), 16, 1, 1, "q?")  # a count would mean k × width again


def test_uniform_features_have_the_same_shape_for_any_length(tiny_model):
    from chronus_lab.model.encoders import Encoders

    enc = Encoders(OmniConfig.tiny(slices_per_clip=12))
    short, long = enc.clip_features(clip_of(4.0)), enc.clip_features(clip_of(20.0))
    assert short["vision"].shape == long["vision"].shape and short["audio"].shape == long["audio"].shape
    assert short["vision"].shape[0] == 12
    assert torch.allclose(long["times"], torch.tensor(slice_times(clip_of(20.0), SlicePlan(slices_per_clip=12)),
                                                      dtype=torch.float64))
    assert enc.fingerprint() != Encoders(OmniConfig.tiny()).fingerprint()  # the cache keys on the plan


# --- bad input: one clear error naming the field ------------------------------------------------
@pytest.mark.parametrize("field,value", [("slices_per_clip", 0), ("slices_per_clip", -3), ("max_slices", 0)])
def test_nonpositive_slice_counts_are_refused_by_name(field, value):
    with pytest.raises(ConfigError, match=field):
        OmniConfig.tiny(**{field: value})
    with pytest.raises(SlicePlanError, match=field):
        SlicePlan(**{field: value})


def test_both_counts_at_once_are_refused():
    with pytest.raises(ConfigError, match="slices_per_clip/max_slices"):
        OmniConfig.tiny(slices_per_clip=8, max_slices=8)


def test_a_clip_with_fewer_frames_than_slices_is_refused():
    with pytest.raises(SlicePlanError, match="fewer than the 40 slices"):
        slices(clip_of(4.0), SlicePlan(slices_per_clip=40))  # 16 frames


def test_a_clip_shorter_than_one_audio_window_is_refused():
    c = clip_of(1.0)
    with pytest.raises(SlicePlanError, match="shorter than one audio window"):
        slices(c, SlicePlan(slice_s=0.5, audio_window_s=2.0))


def test_an_audio_window_longer_than_the_audio_encoder_reads_is_refused_at_load(tiny_model):
    """The bound is the library's own: tiny CLAP's Swin input is 128 mel frames (1.28 s at 10 ms); the
    encoder itself takes a window of exactly that and refuses one frame more."""
    from chronus_lab.model.encoders import Encoders, audio_capacity_frames

    enc = tiny_model.encoders
    assert audio_capacity_frames(enc.audio.config) == 128
    sr = 16_000
    enc.encode_audio(torch.zeros(1, int(1.28 * sr)), sr)
    with pytest.raises(ValueError, match="swin input size"):
        enc.encode_audio(torch.zeros(1, int(1.29 * sr)), sr)
    Encoders(OmniConfig.tiny(audio_window_s=1.28), load=False)
    with pytest.raises(ConfigError, match=r"audio_window_s: 2 s .* \(128 frames = 1.28 s\)"):
        Encoders(OmniConfig.tiny(audio_window_s=2.0), load=False)


def test_a_time_past_the_vocabulary_is_refused():
    fmt = time_format("token", 0.5, max_tokens=64)
    assert fmt.time(31.5) == "<t_63>"
    with pytest.raises(ConfigError, match="max_time_tokens"):
        fmt.time(32.0)


def test_a_recipe_checks_its_world_against_the_plan_and_the_vocabulary_at_load():
    from chronus_lab.train.config import TrainConfig
    from chronus_lab.train.module import omni_config

    with pytest.raises(ConfigError, match="max_time_tokens >= 81"):
        omni_config(TrainConfig.load("tiny-grounding", ["data.world=4-40s"]))
    with pytest.raises(SlicePlanError, match="fewer than the 16 slices"):
        omni_config(TrainConfig.load("tiny-grounding", ["data.world=2-8s", "model_overrides.slices_per_clip=16"]))
    with pytest.raises(ConfigError, match="data.world"):
        TrainConfig.load("tiny-grounding", ["data.world=twelve"])
    ok = omni_config(TrainConfig.load("tiny-grounding", ["data.world=4-12s", "model_overrides.slices_per_clip=16"]))
    assert ok.plan.slices_per_clip == 16 and ok.fusion == "early"  # the override joined the recipe's others


def test_the_planner_reads_the_plan():
    """The full ChronusOmni recipe cuts at most 64 slices: on 8 s clips that is 16 fixed slices, on clips
    up to 60 s it stays 64 (fixed 0.5 s slices would be 120)."""
    from chronus_lab.train.config import TrainConfig
    from chronus_lab.train.plan import sequence_length

    cfg = TrainConfig.load("chronus-sft")
    per_slice = {}
    for world in ("tiny", "20-60s"):
        per_slice[world] = sequence_length(TrainConfig.load("chronus-sft", [f"data.world={world}"]))
    fixed = sequence_length(TrainConfig.load("chronus-sft", ["data.world=20-60s", "model_overrides.max_slices=null",
                                                             "model_overrides.time_format=text"]))
    assert cfg.model_overrides["max_slices"] == 64
    group = (per_slice["20-60s"] - per_slice["tiny"]) / (64 - 16)  # positions of one [time, visual, audio] group
    assert group == int(group) and fixed - per_slice["20-60s"] == (120 - 64) * group


# --- Meerkat's one image: one slice read at its middle, the whole clip's audio -------------------
def test_a_slice_read_at_its_middle_shows_and_writes_the_middle_frame():
    """Worked by hand on an 8 s clip (32 frames at 4 fps, 128,000 samples at 16 kHz)."""
    c = clip_of(8.0, seed=1)
    meerkat = SlicePlan(slices_per_clip=1, read_at="middle", audio_window_s=8.0)
    (one,) = slices(c, meerkat)
    assert (one.start, one.end, one.time, one.frames, one.samples) == (0.0, 8.0, 4.0, (16,), (0, 128000))
    assert one.seen == c.visible_at(4.0) and one.heard == c.heard_at(4.0)  # the ground truth at that frame
    assert slice_times(c, meerkat) == [4.0]  # the time written before the group
    quarters = SlicePlan(slices_per_clip=4, read_at="middle")  # edges 0, 8, 16, 24, 32 → frames 4, 12, 20, 28
    assert [p.frames for p in slices(c, quarters)] == [(4,), (12,), (20,), (28,)]
    assert slice_times(c, quarters) == [1.0, 3.0, 5.0, 7.0]
    assert [p.samples for p in slices(c, quarters)][1] == (32000, 40000)  # audio still read from the slice's start
    with pytest.raises(ConfigError, match="read_at"):
        OmniConfig.tiny(read_at="end")


def test_questions_about_one_moment_ask_only_at_instants_the_model_sees():
    """With a plan, t2v / t2a / ARIG / IGATL / AVFC ask at a slice's time and their answers hold there; with
    the default plan the tasks are the ones made without a plan (the 0.5 s grid is the same instants)."""
    from chronus_lab.world import make_task
    from chronus_lab.world.tasks import AT_A_MOMENT

    fmt = TokenTime()
    uniform = SlicePlan(slices_per_clip=16)
    asked = 0
    for i in range(40):
        c = make_clip(WorldConfig.named("4-12s"), 2, i)
        seen = slice_times(c, uniform)
        for kind in AT_A_MOMENT:
            assert make_task(c, kind, seed=i, fmt=fmt, plan=SlicePlan()) == make_task(c, kind, seed=i, fmt=fmt)
            t = make_task(c, kind, seed=i, fmt=fmt, plan=uniform)
            if t is None or "time" not in t.target and "frame" not in t.target:
                continue
            when = t.target.get("time", t.target.get("frame", 0) / c.fps)
            assert any(abs(when - s) < 1e-9 for s in seen), (kind, when, seen)
            if kind == "t2v":
                assert t.target["labels"] == c.visible_at(when)
            asked += 1
    assert asked > 100
    one_image = SlicePlan(slices_per_clip=1, read_at="middle", audio_window_s=8.0)
    boxes = [make_task(make_clip(WorldConfig.named("tiny"), 0, i), "arig", plan=one_image) for i in range(60)]
    assert all(t is None or t.target["time"] == 4.0 for t in boxes) and sum(t is not None for t in boxes) >= 15


def test_the_meerkat_recipes_read_one_image_and_the_whole_clip_s_audio():
    from chronus_lab.train.config import TrainConfig
    from chronus_lab.train.module import omni_config
    from chronus_lab.train.plan import sequence_length

    for recipe in ("meerkat-stage1", "meerkat-sft"):
        plan = omni_config(TrainConfig.load(recipe)).plan
        assert (plan.n_slices(8.0, 4), plan.read_at, plan.window(0.0, 8.0, 48_000)) == (1, "middle", (0, 384_000))
    video = sequence_length(TrainConfig.load("meerkat-sft", ["model_overrides={}"]))  # 16 slices of 0.5 s
    one = sequence_length(TrainConfig.load("meerkat-sft"))
    assert (video - one) % 15 == 0 and one < video / 4  # 15 [time, visual, audio] groups fewer, the text the same


def test_meerkat_s_one_image_runs_through_the_full_encoders_without_weights():
    """CLIP ViT-B/16 and CLAP HTS-AT at their full sizes, random weights (no download): the middle frame
    becomes 196 patch tokens, the clip's 8 s of audio as many CLAP tokens as a 0.5 s window would (HTS-AT
    fits any input up to ~10 s to its one spectrogram size)."""
    from chronus_lab.model.encoders import Encoders
    from chronus_lab.train.config import TrainConfig
    from chronus_lab.train.module import omni_config

    enc = Encoders(omni_config(TrainConfig.load("meerkat-sft")), load=False)
    clip = make_clip(WorldConfig.named("tiny"), 0, 3)
    f = enc.clip_features(clip)
    assert f["vision"].shape == (1, 196, 768) and f["times"].tolist() == [4.0]
    half_second = enc.encode_audio(torch.from_numpy(clip.audio[: clip.sample_rate // 2].copy())[None], clip.sample_rate)
    assert f["audio"].shape == half_second.shape and torch.isfinite(f["audio"]).all()
