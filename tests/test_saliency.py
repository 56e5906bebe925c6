"""Slice saliency (``train/saliency.py``): which slices a question is about, against the clip's own ground
truth; the loss against torch's binary cross-entropy; that training on it makes the head mark the right
slices; and that the head stays out of the answering model's way (training-only, loads back)."""
import torch
import torch.nn.functional as F

from chronus_lab.model.timestamps import AUDIO, VISION
from chronus_lab.train.module import CONFIG_KEY, InstructModule, load_checkpoint
from chronus_lab.train.saliency import relevant_slices, saliency_loss
from chronus_lab.world import WorldConfig, make_clip, make_task, slices
from chronus_lab.world.slices import SlicePlan
from chronus_lab.world.time_format import time_format


def test_relevant_slices_are_where_the_asked_thing_is_seen_heard_or_asked_at():
    fmt = time_format("token", 0.5, 64)
    plan = SlicePlan(slice_s=0.5)
    checked = set()
    for index in range(6):
        clip = make_clip(WorldConfig.named("tiny"), 11, index)
        parts = slices(clip, plan)
        times = [s.time for s in parts]
        for kind in ("v2t", "a2t", "a2v", "v2a", "t2v", "t2a", "xspan"):
            task = make_task(clip, kind, seed=index, fmt=fmt, plan=plan)
            if task is None:
                continue
            got = relevant_slices(task.target, parts)
            q = task.question
            if kind == "v2t":  # "When is the red circle on screen?": where that object is visible
                obj = q.removeprefix("When is the ").removesuffix(" on screen?")
                want = [float(obj in clip.visible_at(t)) for t in times]
            elif kind == "a2t":
                snd = q.removeprefix("When is the ").removesuffix(" sound heard?")
                want = [float(snd in clip.heard_at(t)) for t in times]
            elif kind == "a2v":  # the sound's slices: where the object is to be read
                snd = q.removeprefix("When the ").removesuffix(" sound is heard, what appears with it?")
                want = [float(snd in clip.heard_at(t)) for t in times]
            elif kind == "v2a":
                obj = q.removeprefix("What sound does the ").removesuffix(" make?")
                want = [float(obj in clip.visible_at(t)) for t in times]
            elif kind in ("t2v", "t2a"):  # one instant: exactly one slice
                assert sum(got) == 1
                want = got
            else:  # xspan: where the sound plays while the object is seen
                snd, obj = q.removeprefix("When is the ").removesuffix(" is on screen?").split(" sound heard while the ")
                want = [float(snd in clip.heard_at(t) and obj in clip.visible_at(t)) for t in times]
            assert got == want, (kind, q, got, want)
            assert sum(got) >= 1
            checked.add(kind)
    assert checked >= {"v2t", "a2t", "a2v", "v2a", "t2v", "t2a"}
    assert relevant_slices({"caption": "a red circle"}, slices(make_clip(WorldConfig.named("tiny"), 11, 0), plan)) is None


def test_saliency_loss_is_binary_cross_entropy_over_the_feature_positions():
    torch.manual_seed(0)
    scores = torch.randn(3, 5)
    modality = torch.tensor([[0, VISION, AUDIO, VISION, AUDIO], [0, VISION, AUDIO, -1, -1], [0, VISION, AUDIO, -1, -1]])
    slice_idx = torch.tensor([[-1, 0, 0, 1, 1], [-1, 0, 0, -1, -1], [-1, 0, 0, -1, -1]])
    got = saliency_loss(scores, modality, slice_idx, [[1.0, 0.0], [0.0], None])  # the third row asks about no slice
    pos = [(0, 1, 1.0), (0, 2, 1.0), (0, 3, 0.0), (0, 4, 0.0), (1, 1, 0.0), (1, 2, 0.0)]
    want = F.binary_cross_entropy(torch.sigmoid(torch.stack([scores[b, p] for b, p, _ in pos])),
                                  torch.tensor([y for *_, y in pos]))
    assert torch.allclose(got, want)
    assert saliency_loss(scores, modality, slice_idx, [None, None, None]) == 0


def test_training_on_saliency_marks_the_slices_asked_about_and_the_head_is_training_only(tmp_path, instruct_batch,
                                                                                        train_on):
    m, batch = instruct_batch(["data.n_train=4", "data.tasks_per_clip=2", "data.batch_size=8", "w_saliency=1",
                               "data.mixture={v2t: 1, a2t: 1}"])
    cfg = m.cfg

    def marked_right() -> float:  # share of feature positions the head puts on the right side of 0
        with torch.no_grad():
            out = m.model(batch)
            scores = m.saliency_scores(out)
        hits = []
        for b, rel in enumerate(batch["relevant"]):
            for p in ((out.modality[b] == VISION) | (out.modality[b] == AUDIO)).nonzero().flatten().tolist():
                hits.append((scores[b, p] > 0).item() == (rel[int(out.slice_idx[b, p])] == 1.0))
        return sum(hits) / len(hits)

    before = marked_right()
    parts = m.losses(batch)
    assert set(parts) == {"loss", "lm", "saliency"}
    train_on(m, batch, "saliency", steps=80)
    after = marked_right()
    assert after > max(0.9, before + 0.2), (before, after)
    # A checkpoint holds the head and loads back; a stage started from it may leave the head behind.
    assert any(k.startswith("saliency_head.") for k in m.trainable_keys())
    path = tmp_path / "m.ckpt"
    torch.save({"state_dict": {k: v for k, v in m.state_dict().items() if k in m.trainable_keys()},
                CONFIG_KEY: cfg.to_dict()}, path)
    assert torch.equal(load_checkpoint(path).saliency_head.weight, m.saliency_head.weight)
    answering = {k: v for k, v in torch.load(path, weights_only=False)["state_dict"].items() if "saliency" not in k}
    torch.save({"state_dict": answering, CONFIG_KEY: cfg.to_dict()}, path)  # as RL's policy checkpoint keeps it
    with torch.no_grad():
        assert torch.allclose(load_checkpoint(path).model(batch).logits, m.eval().model(batch).logits, atol=1e-5)
    plain = InstructModule(cfg.replace(w_saliency=0.0))
    assert not hasattr(plain, "saliency_head") and "saliency_head.weight" not in plain.load_trainable(path)


def test_saliency_layer_picks_the_hidden_state_the_head_reads(instruct_batch):
    """None reads the middle decoder layer, k reads layer k's output (``out.layers[k]``); a layer the LLM lacks is
    refused when the module is built."""
    import pytest

    from chronus_lab.errors import ConfigError

    m, batch = instruct_batch(["data.n_train=2", "data.tasks_per_clip=1", "data.batch_size=2", "w_saliency=1"])
    with torch.no_grad():
        out = m.model(batch)
        head = lambda k: m.saliency_head(out.layers[k]).squeeze(-1)  # noqa: E731
        assert torch.equal(m.saliency_scores(out), head(2))  # 4 layers: the middle is layer 2
        m.cfg = m.cfg.replace(saliency_layer=1)
        assert torch.equal(m.saliency_scores(out), head(1)) and not torch.equal(head(1), head(2))
    with pytest.raises(ConfigError, match="saliency_layer=7: this LLM has 4 decoder layers"):
        InstructModule(m.cfg.replace(saliency_layer=7))
