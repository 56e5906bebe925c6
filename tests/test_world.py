"""The world's ground truth is true: boxes, spans and audio energy, checked from the pixels/samples."""
import numpy as np
import pytest

from chronus_lab.errors import ConfigError
from chronus_lab.world import WorldConfig, make_clip
from chronus_lab.world.config import COLOURS
from chronus_lab.world.scene import BACKGROUND


def _foreground(frame):
    return np.any(frame != BACKGROUND, axis=-1)


def _pixel_box(mask):
    size = mask.shape[0]
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1]) / size


def test_every_coloured_pixel_lies_in_a_visible_objects_box(clips):
    for clip, _ in clips:
        size = clip.frames.shape[1]
        for f in range(clip.n_frames):
            frame = clip.frames[f]
            covered = np.zeros(frame.shape[:2], bool)
            for ev in clip.objects:
                b = ev.box_at(f, clip.fps)
                if b is None:
                    continue
                x0, y0, x1, y1 = (np.array(b) * size).round().astype(int)
                inside = np.zeros_like(covered)
                inside[y0:y1, x0:x1] = True
                same_colour = np.all(frame == COLOURS[ev.object.split()[0]], axis=-1)
                covered |= inside & same_colour
            assert not (_foreground(frame) & ~covered).any(), f"clip {clip.clip_id} frame {f}"


def test_box_is_tight_when_the_object_is_alone(clips):
    checked = 0
    for clip, _ in clips:
        for f in range(clip.n_frames):
            visible = [e for e in clip.objects if e.box_at(f, clip.fps) is not None]
            fg = _foreground(clip.frames[f])
            if len(visible) == 1:
                np.testing.assert_allclose(_pixel_box(fg), visible[0].box_at(f, clip.fps), atol=1e-4)
                checked += 1
            if not visible:
                assert not fg.any(), "a frame with no visible object must be empty"
    assert checked > 200


def test_sound_energy_is_inside_its_span_and_absent_outside(clips, cfg):
    win = cfg.sample_rate // 10  # 100 ms windows
    for clip, tracks in clips:
        x = clip.audio
        n_win = len(x) // win
        rms = np.sqrt((x[: n_win * win].reshape(n_win, win) ** 2).mean(1))
        t0 = np.arange(n_win) * win / cfg.sample_rate
        t1 = t0 + win / cfg.sample_rate
        for ev in clip.sounds:
            inside = (t0 >= ev.start) & (t1 <= ev.end)
            # every 100 ms window inside the span is loud: >= 10x the noise floor
            assert (rms[inside] > 10 * cfg.noise_floor).all(), (clip.clip_id, ev.sound)
            # and its own track is exactly zero outside its span
            s, e = int(ev.start * cfg.sample_rate), int(ev.end * cfg.sample_rate)
            assert not tracks[ev.id][:s].any() and not tracks[ev.id][e:].any()
        silent = np.ones(n_win, bool)
        for ev in clip.sounds:
            silent &= (t1 <= ev.start) | (t0 >= ev.end)
        assert (rms[silent] < 2 * cfg.noise_floor).all()


def test_events_are_well_formed(clips, cfg):
    for clip, _ in clips:
        assert 8.0 == clip.duration and clip.frames.shape == (32, 64, 64, 3)
        assert clip.audio.shape == (int(clip.duration * cfg.sample_rate),) and clip.audio.dtype == np.float32
        assert any(e.kind == "av" for e in clip.events)
        objs = [e.object for e in clip.objects]
        snds = [e.sound for e in clip.sounds]
        assert len(set(objs)) == len(objs) and len(set(snds)) == len(snds)
        for e in clip.events:
            assert 0 <= e.start < e.end <= clip.duration
            assert (e.start / cfg.time_grid).is_integer() and (e.end / cfg.time_grid).is_integer()


def test_pairing_is_drawn_per_clip(clips):
    """No object class always comes with the same sound: only timing links them."""
    pairs = {}
    for clip, _ in clips:
        for e in clip.events:
            if e.kind == "av":
                pairs.setdefault(e.object, set()).add(e.sound)
    assert max(len(s) for s in pairs.values()) > 1
    kinds = {e.kind for clip, _ in clips for e in clip.events}
    assert kinds == {"av", "v", "a"}


def test_same_seed_same_clip_and_other_seed_differs(cfg):
    a, b, c = make_clip(cfg, 3, 11), make_clip(cfg, 3, 11), make_clip(cfg, 4, 11)
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)
    assert a.annotation() == b.annotation()
    assert not np.array_equal(a.audio, c.audio)
    assert make_clip(cfg, np.int64(3), np.int64(11)).annotation() == a.annotation()  # numpy integers are whole numbers
    for seed, index in ((-1, 0), (0, -1), (1.5, 0), (True, 0), (2**32, 0)):  # numpy's ValueError/TypeError before
        with pytest.raises(ConfigError, match="make_clip: (seed|index) must be a whole number"):
            make_clip(cfg, seed, index)


def test_varying_durations():
    cfg = WorldConfig.varying()
    durations = {make_clip(cfg, 0, i).duration for i in range(40)}
    assert len(durations) > 3 and min(durations) >= 6.0 and max(durations) <= 10.0


@pytest.mark.parametrize("kwargs, field", [
    ({"min_duration": 9.0, "max_duration": 8.0}, "min_duration/max_duration"),
    ({"time_grid": 0.3}, "time_grid"),
    ({"min_duration": 4.25, "max_duration": 4.75}, "min_duration/max_duration"),  # off the 0.5 s grid: numpy's
    ({"min_duration": 4.0, "max_duration": 5.2}, "min_duration/max_duration"),  # broadcast error in the audio before
    ({"max_events": 20}, "max_events"),
    ({"colours": ("mauve",)}, "colours"),
])
def test_bad_config_names_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field.replace("/", ".")):
        WorldConfig(**kwargs)


def test_a_named_world_can_ask_for_more_events_than_training_had():
    """``"tiny, 5-6 events"``: the default 8 s clips with 5–6 events each (training clips have 2–4), classes
    still unique in a clip; a name the grammar does not know is one ConfigError that shows the grammar."""
    crowded = WorldConfig.named("tiny, 5-6 events")
    clips = [make_clip(crowded, 3, i) for i in range(8)]
    assert all(5 <= len(c.events) <= 6 for c in clips)
    for clip in clips:
        seen = [e.object for e in clip.events if e.kind in ("av", "v")]
        heard = [e.sound for e in clip.events if e.kind in ("av", "a")]
        assert len(set(seen)) == len(seen) and len(set(heard)) == len(heard)
    assert WorldConfig.named("12-16s, 2-4 events").max_duration == 16.0
    one = WorldConfig.named("4-8s, 1 event")  # one number: exactly that many
    assert all(len(make_clip(one, 3, i).events) == 1 for i in range(4))
    fixed = WorldConfig.named("12s")  # one length: every clip that long (was refused as not a range)
    assert {make_clip(fixed, 3, i).duration for i in range(4)} == {12.0}
    assert WorldConfig.named(" 2.5 s, 3 events").max_duration == 2.5
    for bad in ("tiny, lots", "tiny, 9-10 events", "tiny, 0 events", "huge", "12", "s", "-4s"):
        with pytest.raises(ConfigError, match="data.world"):
            WorldConfig.named(bad)
    # the limit that was broken is named in the message, with the numbers
    with pytest.raises(ConfigError, match=r"number of classes \(8; got 10\)"):
        WorldConfig.named("tiny, 9-10 events")
