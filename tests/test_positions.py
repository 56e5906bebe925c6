"""Skipped position ids (``model/positions.py``, ``position_skip``): the ids against their definition counted
out by hand, the LLM's rotary attention actually reading them (causality says where outputs may change), and
the training step using them while validation and answering do not."""
import pytest
import torch

from chronus_lab.errors import ConfigError
from chronus_lab.model.omni import collate
from chronus_lab.model.positions import skipped_positions
from chronus_lab.model.timestamps import TokenTime
from chronus_lab.train.config import TrainConfig
from chronus_lab.world import make_tasks


def test_skipped_positions_are_one_jump_of_at_most_max_skip_inside_each_rows_tokens():
    mask = torch.tensor([[1] * 7 + [0] * 3, [1] * 10, [1, 1] + [0] * 8, [1] + [0] * 9])
    g = torch.Generator().manual_seed(3)
    cuts, skips = {0: set(), 1: set(), 2: set()}, set()
    for _ in range(400):
        pos = skipped_positions(mask, 5, g)
        for b, row in enumerate(pos.tolist()):
            assert row[0] == 0
            steps = [y - x for x, y in zip(row, row[1:])]
            jumps = [(i + 1, s - 1) for i, s in enumerate(steps) if s != 1]  # (where, by how much)
            assert len(jumps) <= 1 and all(s >= 1 for s in steps)
            n = int(mask[b].sum())
            if jumps:
                (cut, skip), = jumps
                assert 1 <= cut <= n - 1 and 1 <= skip <= 5  # cut inside the row's tokens, never before token 0
                if b in cuts:
                    cuts[b].add(cut)
                skips.add(skip)
            elif n == 1:
                assert row == list(range(10))  # nothing to cut in a one-token row
    assert cuts == {0: set(range(1, 7)), 1: set(range(1, 10)), 2: {1}}  # every cut of every row was drawn
    assert skips == {1, 2, 3, 4, 5}


def _batch(model, clips):
    feats = [model.encoders.clip_features(c) for c in clips]
    tasks = [make_tasks(c, kinds=("v2t",), fmt=TokenTime())[0] for c in clips]
    return collate(feats, [t.question for t in tasks], [t.answer for t in tasks])


def test_the_llm_reads_the_skipped_ids_before_the_cut_nothing_changes_after_it_everything_does(tiny_model, clips):
    tiny_model.eval()
    batch = _batch(tiny_model, [c for c, _ in clips[:2]])
    with torch.no_grad():
        plain = tiny_model(batch).logits
        torch.manual_seed(11)
        want = skipped_positions(tiny_model.embed(batch)["attention_mask"], 50)
        torch.manual_seed(11)
        skipped = tiny_model(batch, position_skip=50).logits
    for b in range(2):
        cut = int((want[b].diff() != 1).nonzero()[0]) + 1 if (want[b].diff() != 1).any() else None
        assert cut is not None, "seed 11 draws a skip > 0 for both rows"
        # causal attention: a position before the cut sees only positions before it, unmoved
        torch.testing.assert_close(skipped[b, :cut], plain[b, :cut])
        # rotary attention is relative: after the cut, distances back across it have grown
        assert (skipped[b, cut:] - plain[b, cut:]).abs().amax() > 1e-4


def test_a_training_step_skips_positions_validation_does_not(instruct_batch):
    m, batch = instruct_batch(["data.n_train=4", "data.tasks_per_clip=1", "data.batch_size=4", "position_skip=40"])
    m.eval()
    with torch.no_grad():
        val = m.losses(batch)["loss"]
        torch.manual_seed(0)
        plain = m.model(batch).loss
    torch.testing.assert_close(val, plain)  # validation and answering read plain positions
    m.train()
    with torch.no_grad():
        torch.manual_seed(5)
        trained = m.losses(batch)["loss"]
        torch.manual_seed(5)
        want = m.model(batch, position_skip=40).loss
    torch.testing.assert_close(trained, want)
    assert abs(float(trained) - float(plain)) > 1e-5


@pytest.mark.parametrize("value", [-1, 10**9])
def test_position_skip_out_of_range_is_one_config_error(value):
    with pytest.raises(ConfigError, match="position_skip"):
        TrainConfig.load("tiny-sft", [f"position_skip={value}"])
