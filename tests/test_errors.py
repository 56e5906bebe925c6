"""The anatomy of implicit answers (``eval/errors.py``): its cases against a brute-force reading of what is heard
and seen at every instant of generated clips, and the sorting of wrong answers on a hand-built clip."""
import numpy as np

from chronus_lab.eval.errors import CASES, WRONG, case_of, implicit_anatomy
from chronus_lab.eval.harness import Prediction
from chronus_lab.world import WorldConfig, make_clip, make_task
from chronus_lab.world.clip import Clip, Event


def _case_by_instants(clip, asked, attr: str) -> str:
    """The case from sets of instants on a fine grid: when the asked event happens, and when each other event of
    the answer's modality happens (``visible_at`` / ``heard_at``), never from their start / end."""
    grid = np.arange(0, clip.duration, 0.05)
    at = clip.heard_at if attr == "sound" else clip.visible_at
    mine = {round(t, 2) for t in grid if asked.start <= t < asked.end}
    cases = set()
    for o in (e for e in clip.events if getattr(e, attr) and e.id != asked.id):
        theirs = {round(t, 2) for t in grid if getattr(o, attr) in at(t)}
        if theirs == mine:
            cases.add("twin")
        elif mine <= theirs:
            cases.add("covering")
        elif mine & theirs:
            cases.add("partial")
    return next((c for c in reversed(CASES) if c in cases), "alone")


def test_cases_match_what_is_seen_and_heard_at_every_instant():
    cfg, seen = WorldConfig.named("tiny, 5-6 events"), set()
    for index in range(40):
        clip = make_clip(cfg, 11, index)
        for kind, attr in (("v2a", "sound"), ("a2v", "object")):
            for seed in range(6):
                task = make_task(clip, kind, seed)
                asked = next(e for e in clip.events if e.id == task.target["event"])
                others = [e for e in clip.events if getattr(e, attr) and e.id != asked.id]
                want = _case_by_instants(clip, asked, attr)
                assert case_of(asked, others) == want, (index, kind, asked, others)
                seen.add(want)
    assert {"alone", "partial", "covering"} <= seen  # the generated clips exercise the cases that matter


def test_wrong_answers_are_sorted_by_what_they_name():
    """A hand-built clip: the red circle beeps over 1-3 s; a siren (off screen) plays 0-5 s, covering it; a click
    plays 6-7 s, elsewhere. Each answer to "what sound does the red circle make?" lands in its own column."""
    events = [Event(0, "av", 1.0, 3.0, object="red circle", sound="beep"),
              Event(1, "a", 0.0, 5.0, sound="siren"), Event(2, "a", 6.0, 7.0, sound="click"),
              Event(3, "v", 4.0, 6.0, object="blue cross")]
    clip = Clip(clip_id=0, duration=8.0, fps=4, sample_rate=16000, events=events)
    v2a = next(t for s in range(50) if (t := make_task(clip, "v2a", s)).target["event"] == 0)
    answers = ["beep", "siren", "click", "nothing", "whistle", "Beep."]
    rows = implicit_anatomy([Prediction(v2a, a, 0) for a in answers], [clip])
    assert rows == [{"task": "v2a", "case": "covering", "n": 6, "acc": 2 / 6,
                     **dict(zip(WRONG, [1, 1, 1, 1]))}]
    # the blue cross is silent ("nothing"); the siren overlaps it partly
    silent = next(t for s in range(50) if (t := make_task(clip, "v2a", s)).target["event"] == 3)
    assert silent.answer == "nothing"
    rows = implicit_anatomy([Prediction(silent, "siren", 0), Prediction(silent, "nothing", 0)], [clip])
    assert rows == [{"task": "v2a", "case": "partial", "n": 2, "acc": 0.5, **dict(zip(WRONG, [1, 0, 0, 0]))}]
