"""Every generated answer is recomputable from the clip — checked with independent, brute-force logic
(frame boxes instead of spans where possible, parsing the text instead of reading the target)."""
import re

import numpy as np
import pytest

from chronus_lab.errors import ConfigError
from chronus_lab.model.timestamps import TextTime, TokenTime
from chronus_lab.world import KINDS, make_task, make_tasks
from chronus_lab.world.tasks import NOTHING

TEXT = TextTime()


def _parse_box(text):
    return [float(v) for v in re.search(r"\[([^\]]+)\]", text).group(1).split(",")]


def _visible_by_frames(clip, t):
    f = int(round(t * clip.fps))
    return sorted(e.object for e in clip.events if e.object and e.box_at(f, clip.fps) is not None)


def _named(clip, phrase):
    """The event a phrase like 'the red circle' or 'the chirp sound' names."""
    phrase = phrase.removeprefix("the ")
    if phrase.endswith(" sound"):
        return clip.by_sound(phrase.removesuffix(" sound"))
    return clip.by_object(phrase)


def _audible_frames(clip, track) -> set[int]:
    """Frames during which a sound's own waveform is loud (energy well above silence), from samples."""
    per = clip.sample_rate // clip.fps
    rms = [float(np.sqrt(np.mean(track[f * per:(f + 1) * per] ** 2))) for f in range(clip.n_frames)]
    return {f for f, r in enumerate(rms) if r > 0.2 * max(rms)}


def _expected(clip, task, tracks=None):
    q, kind = task.question, task.kind
    if kind == "t2v":
        labels = _visible_by_frames(clip, TEXT.parse_times(q)[0])
        return " and ".join(labels) or NOTHING
    if kind == "t2a":
        t = TEXT.parse_times(q)[0]
        i = int(t * clip.sample_rate)
        labels = sorted(e.sound for e in clip.events if e.sound and e.start * clip.sample_rate <= i < e.end * clip.sample_rate)
        return " and ".join(labels) or NOTHING
    if kind in ("v2t", "a2t"):
        ev = _named(clip, re.match(r"When is (.+?) (on screen|heard)\?", q).group(1))
        return TEXT.span(ev.start, ev.end)
    if kind == "a2v":  # independent of the generator: the object on screen exactly while the sound's samples are loud
        snd = _named(clip, "the " + re.match(r"When the (.+?) is heard", q).group(1))
        loud = _audible_frames(clip, tracks[snd.id])
        same = [e.object for e in clip.objects
                if {f for f in range(clip.n_frames) if e.box_at(f, clip.fps) is not None} == loud]
        # a silent object with exactly the sound's span makes the question ambiguous (a world quirk,
        # measured in the note of the layout issue): the answer must then be one of the candidates
        return task.answer if len(same) > 1 and task.answer in same else same[0]
    if kind == "v2a":
        obj = clip.by_object(re.match(r"What sound does the (.+?) make\?", q).group(1))
        return obj.sound or NOTHING
    if kind == "xspan":
        m = re.match(r"When is the (.+?) sound heard while the (.+?) is on screen\?", q)
        a, v = clip.by_sound(m.group(1)), clip.by_object(m.group(2))
        frames = [f for f in range(clip.n_frames) if v.box_at(f, clip.fps) is not None
                  and a.start <= f / clip.fps < a.end]
        return TEXT.span(frames[0] / clip.fps, (frames[-1] + 1) / clip.fps)
    if kind == "order":
        px, py = re.match(r"Which starts first: (.+?) or (.+?)\?", q).groups()
        return px if _named(clip, px).start < _named(clip, py).start else py
    if kind == "arig":
        snd = clip.by_sound(re.search(r"source of the (.+?) sound", q).group(1))
        f = int(round(TEXT.parse_times(q)[0] * clip.fps))
        # the sounding object is the visible one whose span is the sound's span
        src = next(e for e in clip.objects if (e.start, e.end) == (snd.start, snd.end) and e.sound == snd.sound)
        return "[" + ", ".join(f"{v:.2f}" for v in src.box_at(f, clip.fps)) + "]"
    if kind == "igatl":
        f = int(round(TEXT.parse_times(q)[0] * clip.fps))
        box = np.array(_parse_box(q))
        obj = min((e for e in clip.objects if e.box_at(f, clip.fps) is not None),
                  key=lambda e: np.abs(np.array(e.box_at(f, clip.fps)) - box).max())
        return TEXT.span(obj.start, obj.end) if obj.sound else None
    if kind == "avfc":
        return _avfc_truth(clip, task)
    if kind == "avqa":
        n = {"How many objects appear in the clip?": len(clip.objects),
             "How many different sounds are heard?": len(clip.sounds),
             "How many sounds come from something off screen?": len([e for e in clip.sounds if not e.object]),
             "How many objects are silent?": len([e for e in clip.objects if not e.sound])}[q]
        return str(n)
    if kind == "avcap":
        return None  # checked in test_caption_lists_every_event_in_order
    raise AssertionError(kind)


def _avfc_truth(clip, task):
    q = task.question
    m = re.search(r"the (\w+) sound", q, flags=re.I)
    snd = clip.by_sound(m.group(1)) if m and m.group(1) in [e.sound for e in clip.sounds] else None
    ok = True
    if task.target["type"] == "global":
        obj = clip.by_object(re.match(r"The (.+?) makes", q).group(1))
        return "true" if (obj.sound or "no") == (m.group(1) if m else "no") else "false"
    if "comes from the object at" in q or "The object at" in q:
        f = int(round(TEXT.parse_times(q)[0] * clip.fps))
        ok &= np.allclose(_parse_box(q), snd.box_at(f, clip.fps), atol=0.006)
    if "heard second" in q:
        times = TEXT.parse_times(q)[-2:]
        ok &= tuple(times) == (snd.start, snd.end)
    return "true" if ok else "false"


@pytest.mark.parametrize("kind", KINDS)
def test_answer_recomputes_from_events(clips, kind):
    n = 0
    for clip, tracks in clips:
        task = make_task(clip, kind, seed=1)
        if task is None:
            continue
        expected = _expected(clip, task, tracks)
        if expected is not None:
            assert task.answer == expected, (clip.clip_id, task.question)
            n += 1
    assert n >= (0 if kind == "avcap" else 30), f"{kind} was posable on only {n} clips"


@pytest.mark.parametrize("seconds", [0.5, 1.0, 2.0])
def test_very_short_clips_pose_every_kind_with_recomputable_answers(seconds):
    """A clip of one to four slices: an event may fill the whole clip, so a false AVFC claim cannot move its
    time (it was ``min() arg is an empty sequence`` while writing a 0.5 s world); such a claim asks where
    instead. Every answer still recomputes from the events, and false claims stay about half."""
    from chronus_lab.world import WorldConfig
    from chronus_lab.world.scene import make_clip

    cfg = WorldConfig.lengths(seconds, seconds)
    short = [make_clip(cfg, seed=7, index=i, with_tracks=True) for i in range(40)]
    verdicts = []
    for clip, tracks in short:
        for kind in KINDS:
            for seed in range(3):
                task = make_task(clip, kind, seed=seed)
                if task is None:
                    continue
                expected = _expected(clip, task, tracks)
                if expected is not None:
                    assert task.answer == expected, (seconds, clip.clip_id, task.question)
                if kind == "avfc":
                    verdicts.append(task.answer == "true")
    assert 0.3 < np.mean(verdicts) < 0.7


def test_a_false_avfc_box_is_far_from_the_true_one(clips):
    """Pixels, not the generator's arithmetic: rasterise the claimed box and the object's true box; a
    false claim that changed the box covers at most a tenth of the true one (the mirrored box it
    replaced covered up to all of it for objects near the centre)."""
    def raster(box, size=64):
        c = (np.arange(size) + 0.5) / size  # pixel centres
        return ((c >= box[1]) & (c < box[3]))[:, None] & ((c >= box[0]) & (c < box[2]))[None, :]

    n = 0
    for clip, _ in clips:
        for seed in range(8):
            task = make_task(clip, "avfc", seed=seed)
            if task.target["type"] not in ("spatial", "both") or task.answer == "true":
                continue
            f = int(round(TEXT.parse_times(task.question)[0] * clip.fps))
            ev = next(e for e in clip.events if e.id == task.target["event"])
            claimed, true = raster(_parse_box(task.question)), raster(ev.box_at(f, clip.fps))
            if (claimed == true).all():
                continue  # a false "both" claim that moved the span instead
            assert (claimed & true).sum() <= 0.1 * true.sum(), (clip.clip_id, task.question)
            n += 1
    assert n >= 20


def test_caption_lists_every_event_in_order(clips):
    for clip, _ in clips:
        cap = make_task(clip, "avcap").answer.lower()
        names = [e.object or e.sound for e in sorted(clip.events, key=lambda e: (e.start, e.id))]
        pos = [cap.index(n) for n in names]
        assert pos == sorted(pos)


def test_avfc_is_balanced_and_covers_the_four_types(clips):
    tasks = [make_task(c, "avfc", seed=s) for c, _ in clips for s in range(3)]
    share_true = np.mean([t.answer == "true" for t in tasks])
    assert 0.35 < share_true < 0.65
    assert {t.target["type"] for t in tasks} == {"spatial", "temporal", "both", "global"}


def test_token_format_writes_the_same_spans(clips):
    tok = TokenTime()
    for clip, _ in clips[:20]:
        for a, b in zip(make_tasks(clip, fmt=TEXT), make_tasks(clip, fmt=tok)):
            assert a.kind == b.kind and a.target == b.target
            if "span" in a.target:
                assert tok.parse_span(b.answer) == TEXT.parse_span(a.answer) == tuple(a.target["span"])


def test_tasks_are_deterministic_and_independent_of_each_other(clips):
    clip = clips[0][0]
    alone = make_task(clip, "xspan", seed=5)
    together = [t for t in make_tasks(clip, seed=5) if t.kind == "xspan"]
    assert [alone] == together or alone is None


def test_unknown_kind_is_a_clear_error(clips):
    with pytest.raises(ConfigError, match="unknown task kind 'foo'"):
        make_task(clips[0][0], "foo")
