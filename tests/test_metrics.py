import pytest

from chronus_lab.eval.metrics import mean_iou, recall_at, temporal_iou


@pytest.mark.parametrize("pred, true, iou", [
    ((1.0, 3.0), (2.0, 4.0), 1 / 3),   # overlap 1 s, union 3 s
    ((0.0, 2.0), (0.0, 2.0), 1.0),
    ((0.0, 1.0), (2.0, 3.0), 0.0),     # disjoint
    ((0.0, 4.0), (1.0, 2.0), 0.25),    # contains
    ((2.0, 2.0), (1.0, 3.0), 0.0),     # empty prediction
    (None, (1.0, 3.0), 0.0),           # unparsable
])
def test_temporal_iou_hand_worked(pred, true, iou):
    assert temporal_iou(pred, true) == pytest.approx(iou)


def test_mean_and_recall():
    preds, trues = [(0, 2), (0, 1), None], [(0, 2), (0, 2), (0, 2)]
    assert mean_iou(preds, trues) == pytest.approx(0.5)
    assert recall_at(preds, trues, 0.5) == pytest.approx(2 / 3)
    assert recall_at(preds, trues, 0.7) == pytest.approx(1 / 3)


def test_format_table_aligns_columns():
    from chronus_lab.eval.metrics import format_table

    lines = format_table([{"a": 1, "bb": 0.5}, {"a": 10, "bb": 2}]).splitlines()
    assert lines[0] == " a |  bb" and lines[2] == " 1 | 0.5" and len({len(line) for line in lines}) == 1


def test_caption_content_scores_names_where_bleu_scores_the_template():
    """A caption in the right template with every name wrong: BLEU-4 stays high (the template's n-grams),
    the content score is 0; the right names in the wrong order lose only the order."""
    from chronus_lab.eval.metrics import bleu4, caption_content
    from chronus_lab.world import WorldConfig, make_clip, make_task

    refs = [make_task(make_clip(WorldConfig.tiny(), 7, i), "avcap").answer for i in range(40)]
    wrong = refs[1:] + refs[:1]  # another clip's caption: same template, other names
    assert bleu4(wrong, refs) > 20
    content = sum(map(caption_content, wrong, refs)) / len(refs)
    assert content < 0.25 and sum(map(caption_content, refs, refs)) / len(refs) == 1.0
    swapped = "A buzz sound is heard off screen; then a red circle appears silently."
    assert caption_content(swapped, "A red circle appears silently; then a buzz sound is heard off screen.") == 0.5


def test_mean_std_is_the_sample_std_that_numpy_gives_with_ddof_1():
    """Every experiment's "mean ± std over seeds" comes from one helper; its std is numpy's with ddof=1."""
    import numpy as np

    from chronus_lab.eval.metrics import mean_std

    values = [0.517, 0.493, 0.471]
    mean, std = (float(x) for x in mean_std(values).split(" ± "))
    assert mean == pytest.approx(np.mean(values), abs=5e-4) and std == pytest.approx(np.std(values, ddof=1), abs=5e-4)
    assert std > np.std(values) + 1e-3  # not the population std (ddof=0), which looks tighter with few seeds
    assert mean_std([0.25]) == "0.250"
