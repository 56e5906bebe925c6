"""Evaluation metrics on hand-worked cases, and the harness with an oracle and a wrong model."""
import math
from collections import Counter

import pytest
import torch

from chronus_lab.eval import metrics as M
from chronus_lab.eval.harness import chance_answers, evaluate, score
from chronus_lab.model.timestamps import TextTime, TokenTime
from chronus_lab.train.data import TaskDataset, eval_tasks
from chronus_lab.world import WorldConfig, make_clip, make_task


def test_span_f1_by_hand():
    assert M.span_f1((1.0, 3.0), (2.0, 4.0)) == pytest.approx(0.5)  # 2·1 / (2 + 2)
    assert M.span_f1((0.0, 1.0), (0.0, 3.0)) == pytest.approx(0.5)  # 2·1 / (1 + 3)
    assert M.span_f1((2.0, 4.0), (2.0, 4.0)) == 1.0
    assert M.span_f1((0.0, 1.0), (2.0, 3.0)) == 0.0
    assert M.span_f1(None, (0.0, 1.0)) == 0.0
    assert M.span_f1((3.0, 1.0), (0.0, 4.0)) == 0.0  # reversed span = unreadable


def test_recall_at_thresholds_by_hand():
    preds = [(0.0, 2.0), (0.0, 1.0), None]  # IoUs with (0, 2): 1.0, 0.5, 0
    trues = [(0.0, 2.0)] * 3
    assert [M.recall_at(preds, trues, th) for th in (0.3, 0.5, 0.7)] == pytest.approx([2 / 3, 2 / 3, 1 / 3])
    assert M.mean_iou(preds, trues) == pytest.approx(0.5)


def test_box_iou_and_parsing_by_hand():
    assert M.box_iou([0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.75, 0.75]) == pytest.approx(1 / 7)  # 1/16 ÷ 7/16
    assert M.box_iou([0.1, 0.1, 0.3, 0.3], [0.1, 0.1, 0.3, 0.3]) == pytest.approx(1.0)
    assert M.box_iou([0.0, 0.0, 0.1, 0.1], [0.5, 0.5, 0.9, 0.9]) == 0.0
    assert M.box_iou([0.3, 0.3, 0.3, 0.5], [0.0, 0.0, 1.0, 1.0]) == 0.0  # zero width
    assert M.box_iou(None, [0.0, 0.0, 1.0, 1.0]) == 0.0
    assert M.parse_box("it is at [0.10, 0.2,0.30 , 0.40].") == [0.1, 0.2, 0.3, 0.4]
    assert M.parse_box("at [0.1, 0.2, 0.3]") is None and M.parse_box("") is None and M.parse_box(None) is None


def test_accuracy_and_binary_f1_by_hand():
    assert M.accuracy(["Red circle.", " blue square", "x"], ["red circle", "blue square", "y"]) == pytest.approx(2 / 3)
    # tp = 1 (first), fp = 1 (second), fn = 1 (third) → F1 = 2 / (2 + 1 + 1)
    assert M.binary_f1(["true", "true", "false", "false"], ["true", "false", "true", "false"]) == pytest.approx(0.5)
    assert M.binary_f1(["false"], ["false"]) == 0.0


def test_bleu4_by_hand():
    ref = "the cat sat on the mat today"
    assert M.bleu4([ref], [ref]) == pytest.approx(100.0)
    # every n-gram precision is 1; only the brevity penalty exp(1 − 7/6) applies
    assert M.bleu4(["the cat sat on the mat"], [ref]) == pytest.approx(100 * math.exp(1 - 7 / 6), abs=1e-6)
    assert M.bleu4(["dog"], [ref]) < 1.0


@pytest.fixture(scope="module")
def split():
    clips = [make_clip(WorldConfig.tiny(), 5, i) for i in range(12)]
    fmt = TokenTime()
    feats = [{"vision": torch.zeros(16, 64, 64), "audio": torch.zeros(16, 16, 64), "times": torch.arange(16) * 0.5}
             for _ in clips]
    return TaskDataset(clips, feats, eval_tasks(clips, ("v2t", "a2v", "arig", "avfc", "avcap", "igatl"), fmt), 0.5), fmt


class Scripted:
    """A stand-in model that writes ``answer(task)`` — exercises the harness without training."""

    training = False

    def __init__(self, dataset, answer):
        self.answer, self.queue = answer, iter([t for _, t in dataset.tasks])

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def generate(self, batch, max_new_tokens):
        return [self.answer(t) for t in batch["tasks"]]


def test_oracle_scores_perfectly_and_nonsense_scores_zero(split):
    dataset, fmt = split
    train = [t for _, t in dataset.tasks]
    oracle = evaluate(Scripted(dataset, lambda t: t.answer), dataset, train, fmt)
    for task, metric in (("v2t", "mIoU"), ("v2t", "R@0.7"), ("a2v", "acc"), ("arig", "cIoU@0.5"), ("igatl", "F1"),
                         ("avfc", "acc"), ("avfc", "F1"), ("implicit (a2v+v2a)", "acc")):
        assert oracle.value(task, "model", metric) == pytest.approx(1.0), (task, metric)
    # boxes are scored against the exact box; the answer text has 2 decimals, which costs a little
    assert 0.9 < oracle.value("arig", "model", "box IoU") < 1.0
    assert oracle.value("avcap", "model", "BLEU-4") == pytest.approx(100.0)
    assert oracle.value("avcap", "model", "content") == pytest.approx(1.0)
    junk = evaluate(Scripted(dataset, lambda t: "zebra"), dataset, train, fmt)
    for task, metric in (("v2t", "mIoU"), ("a2v", "acc"), ("arig", "box IoU"), ("avfc", "acc")):
        assert junk.value(task, "model", metric) == 0.0
    assert {r["who"] for r in oracle.rows} == {"model", "chance"}
    # the evaluation keeps its clips, so the implicit answers can be read against their events (eval/errors.py)
    from chronus_lab.eval.errors import WRONG, implicit_anatomy

    assert oracle.clips == list(dataset.clips)
    implicit = sum(p.task.kind in ("a2v", "v2a") for p in oracle.predictions)
    right, wrong = implicit_anatomy(oracle.predictions, oracle.clips), implicit_anatomy(junk.predictions, junk.clips)
    assert sum(r["n"] for r in right) == implicit > 0 and all(r["acc"] == 1.0 for r in right)
    assert all(r["acc"] == 0.0 and r[WRONG[3]] == r["n"] for r in wrong)  # "zebra" is in no clip


def test_versus_chance_judges_each_row_by_its_kinds_metric(split):
    dataset, fmt = split
    train = [t for _, t in dataset.tasks]
    oracle = evaluate(Scripted(dataset, lambda t: t.answer), dataset, train, fmt)
    expected = {"v2t": "mIoU", "igatl": "mIoU", "arig": "box IoU", "avcap": "content", "avfc": "acc", "a2v": "acc",
                "explicit (v2t+a2t)": "mIoU", "implicit (a2v+v2a)": "acc"}
    for task, metric in expected.items():
        assert oracle.versus_chance(task) == (metric, oracle.value(task, "model", metric),
                                              oracle.value(task, "chance", metric)), task


def test_avfc_is_scored_per_claim_type(split):
    """A model that judges only spatial claims and calls every other claim true: its spatial row is perfect,
    and each other type's F1 is what "always true" earns there, counted from the claims themselves."""
    dataset, fmt = split
    clips = dataset.clips
    tasks = [(ci, t) for ci, c in enumerate(clips) for s in range(8) if (t := make_task(c, "avfc", seed=s, fmt=fmt))]
    claims = TaskDataset(clips, dataset.features, tasks, 0.5)
    answer = lambda t: t.answer if t.target["type"] == "spatial" else "true"  # noqa: E731
    ev = evaluate(Scripted(claims, answer), claims, [t for _, t in tasks], fmt)
    by_type = {kind: [t for _, t in tasks if t.target["type"] == kind] for kind in ("spatial", "temporal", "both", "global")}
    assert all(by_type.values()), "every claim type must occur in this test's claims"
    assert sum(int(ev.value(f"avfc {k}", "model", "n")) for k in by_type) == len(tasks)
    assert ev.value("avfc spatial", "model", "F1") == pytest.approx(1.0)
    for kind in ("temporal", "both", "global"):
        n_true = sum(t.answer == "true" for t in by_type[kind])
        n_false = len(by_type[kind]) - n_true
        assert ev.value(f"avfc {kind}", "model", "F1") == pytest.approx(2 * n_true / (2 * n_true + n_false))
        assert ev.value(f"avfc {kind}", "model", "acc") == pytest.approx(n_true / len(by_type[kind]))


def test_chance_rows_come_from_training_answers_never_from_test_answers(split):
    """Training and test priors are made to disagree; chance must follow training only."""
    from chronus_lab.world.tasks import Task

    dataset, fmt = split
    tests = [t for _, t in dataset.tasks]
    avfc = [t for t in tests if t.kind == "avfc"]
    test_majority = max(("true", "false"), key=[t.answer for t in avfc].count)
    other = "false" if test_majority == "true" else "true"
    train = [Task(0, "avfc", "q", other, {}) for _ in range(3)]  # training says the other answer
    train += [Task(0, "v2t", "q", fmt.span(0.0, 2.5), {"span": [0.0, 2.5]})]  # one training length: 2.5 s
    assert set(chance_answers("avfc", avfc, [8.0] * len(avfc), train, fmt)) == {other}
    spans = [t for t in tests if t.kind == "v2t"]
    for text in chance_answers("v2t", spans, [8.0] * len(spans), train, fmt, seed=3):
        s, e = fmt.parse_span(text)
        assert 0 <= s < e <= 8.0 and e - s == pytest.approx(2.5)  # the training length, not the test ones
    # a kind never trained: spans from the uniform prior (any length), labels have no chance value
    uniform = {round(e - s, 3) for s, e in map(fmt.parse_span, chance_answers("igatl", spans, [8.0] * len(spans), [], fmt))}
    assert len(uniform) > 3
    assert chance_answers("a2v", avfc, [8.0] * len(avfc), train, fmt) == [None] * len(avfc)
    ev = evaluate(Scripted(dataset, lambda t: t.answer), dataset, train, fmt)
    assert math.isnan(ev.value("a2v", "chance", "acc")) and "-" in ev.table()
    # a random span of a training length scores well below a perfect one but not zero on average
    m = score("v2t", spans, chance_answers("v2t", spans, [8.0] * len(spans), train, fmt), fmt)
    assert 0.0 < m["mIoU"] < 0.6


def test_scores_parse_text_seconds_too():
    clip = make_clip(WorldConfig.tiny(), 5, 0)
    fmt = TextTime()
    task = make_task(clip, "v2t", fmt=fmt)
    assert score("v2t", [task], [task.answer], fmt)["mIoU"] == pytest.approx(1.0)
    assert score("v2t", [task], ["no idea"], fmt)["mIoU"] == 0.0


def test_linear_probe_separates_separable_classes_and_not_noise():
    from chronus_lab.train.probe import linear_probe

    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 8, generator=g) * 3
    xs = [centres[i % 3] + 0.3 * torch.randn(8, generator=g) for i in range(120)]
    ys = [str(i % 3) for i in range(120)]
    assert linear_probe(xs[:90], ys[:90], xs[90:], ys[90:]) == 1.0
    noise = [torch.randn(8, generator=g) for _ in range(120)]
    assert linear_probe(noise[:90], ys[:90], noise[90:], ys[90:]) < 0.7


def test_set_probe_reads_bound_objects_and_not_a_bag_of_attributes():
    """Two objects in a slice: when each token carries a whole object (colour *and* shape), the set probe reads
    the pair; when colours and shapes sit in separate tokens, "red circle + blue square" and "blue circle + red
    square" have the same mean token and no probe can tell them apart (the binding problem)."""
    from chronus_lab.train.probe import set_probe

    colours, shapes = ["red", "blue", "green"], ["circle", "square", "cross"]
    classes = [f"{c} {s}" for c in colours for s in shapes]
    g = torch.Generator().manual_seed(0)
    whole, part = torch.randn(len(classes), 16, generator=g), torch.randn(len(colours) + len(shapes), 16, generator=g)

    def slices(n, bound):
        xs, ys = [], []
        for _ in range(n):
            k = 1 + int(torch.randint(2, (1,), generator=g))
            cs, ss = torch.randperm(3, generator=g)[:k].tolist(), torch.randperm(3, generator=g)[:k].tolist()
            names = tuple(f"{colours[c]} {shapes[s]}" for c, s in zip(cs, ss))
            if bound:  # one token per object, padded with a repeat so every slice has 4 tokens
                toks = [whole[classes.index(nm)] for nm in names]
            else:  # a colour token and a shape token per object
                toks = [t for c, s in zip(cs, ss) for t in (part[c], part[3 + s])]
            toks = (toks * 4)[:4] if len(toks) < 4 else toks
            xs.append(torch.stack(toks) + 0.05 * torch.randn(4, 16, generator=g))
            ys.append(names)
        return xs, ys

    bound = set_probe(*slices(600, True), *slices(200, True), classes, steps=600)
    bag = set_probe(*slices(600, False), *slices(200, False), classes, steps=600)
    assert bound > 0.9 and bag < 0.6, (bound, bag)


def test_span_predictions_put_each_answer_on_its_event_row(split):
    from chronus_lab.eval.harness import span_predictions

    dataset, fmt = split
    oracle = evaluate(Scripted(dataset, lambda t: t.answer), dataset, [t for _, t in dataset.tasks], fmt)
    rows = span_predictions(oracle, dataset.clips, fmt)
    assert rows
    for ci, spans in rows.items():
        clip = dataset.clips[ci]
        for label, span in spans.items():
            ev = next(e for e in clip.events if label in (e.object, e.sound))
            assert span == pytest.approx(ev.span)


def test_probe_rows_count_single_label_slices():
    from chronus_lab.experiments.probe import run

    rows = run(n_train=4, n_test=3)
    assert [r["modality"] for r in rows] == ["vision", "audio"]
    for r in rows:
        assert r["train slices"] > 0 and r["test slices"] > 0 and 0.0 <= r["probe acc"] <= 1.0
        assert r["chance"] == round(1 / r["classes"], 3)
        assert r["set probe"] is None or 0.0 <= r["set probe"] <= 1.0


def test_limit_per_kind_takes_the_first_n_of_each_kind_and_refuses_zero(split):
    """``limit_per_kind=0`` meant "no limit" and -1 "all but one" (a slice); now a count from 1 or None."""
    from chronus_lab.errors import ConfigError
    from chronus_lab.eval.harness import predict

    dataset, _ = split
    per_kind = Counter(t.kind for _, t in dataset.tasks)
    asked = Counter(p.task.kind for p in predict(Scripted(dataset, lambda t: t.answer), dataset, limit_per_kind=2))
    assert asked == {k: min(2, n) for k, n in per_kind.items()}
    everything = predict(Scripted(dataset, lambda t: t.answer), dataset, limit_per_kind=None)
    assert len(everything) == len(dataset.tasks)
    for bad in (0, -1, 1.5, True, "3"):
        with pytest.raises(ConfigError, match="limit_per_kind"):
            predict(Scripted(dataset, lambda t: t.answer), dataset, limit_per_kind=bad)
