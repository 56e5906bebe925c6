"""Computed ``<t_k>`` rows (``time_rows: fourier``, ``model/time_rows.py``): the features against their formula,
every read and write of a time token going through the computed rows under PEFT (the tied head's logits
recomputed from the embedding of every id), a training step moving the rows of times no sequence showed while
the paper's table leaves them where they were, the planner's count against the real model, and the rows
surviving an export."""
import math

import pytest
import torch

from chronus_lab.errors import ConfigError
from chronus_lab.model.time_rows import fourier_features
from chronus_lab.model.tokenizer import time_tokens
from chronus_lab.train.config import TrainConfig

FOURIER = "model_overrides.time_rows=fourier"


def test_features_are_cos_and_sin_of_k_at_periods_from_2_to_twice_the_vocabulary():
    n, pairs = 40, 5
    phi = fourier_features(n, pairs)
    periods = [2 * (n ** (f / (pairs - 1))) for f in range(pairs)]
    assert periods[0] == 2 and periods[-1] == pytest.approx(2 * n)
    for k in (0, 1, 7, 39):
        want = [1.0] + [math.cos(2 * math.pi * k / p) for p in periods] + [math.sin(2 * math.pi * k / p) for p in periods]
        assert phi[k].tolist() == pytest.approx(want, abs=1e-6)
    # every k has its own features: no two time tokens start as the same row
    assert torch.cdist(phi, phi).add(torch.eye(n) * 9).min() > 0.1
    short = fourier_features(n, pairs, longest=16)  # time_rows_period: periods 2 … 16
    for f, p in enumerate([2 * (8 ** (f / (pairs - 1))) for f in range(pairs)]):
        assert short[:, 1 + f].tolist() == pytest.approx([math.cos(2 * math.pi * k / p) for k in range(n)], abs=1e-6)


def _time_ids(model):
    return torch.tensor(model.tokenizer.convert_tokens_to_ids(time_tokens(model.cfg.max_time_tokens)))


def test_every_time_token_is_read_and_written_through_its_computed_row_under_peft(instruct_batch):
    m, batch = instruct_batch(["data.n_train=2", "data.tasks_per_clip=1", "data.batch_size=2", FOURIER])
    m.eval()
    model = m.model
    with torch.no_grad():
        out = model(batch)  # attaches the hooks to PEFT's wrapped embedding modules
        ids = _time_ids(model)
        rows = fourier_features(len(ids)) @ model.time_rows.weight  # the definition, not the module's rows()
        table = model.llm.get_input_embeddings()
        torch.testing.assert_close(table(ids), rows)
        text = torch.arange(0, int(ids.min()))  # the tokenizer's own ids: the table's rows, untouched
        base = next(mod for mod in table.modules() if isinstance(mod, torch.nn.Embedding)).weight  # PEFT wraps it
        torch.testing.assert_close(table(text), base[text])
        # tied head: every id's logit is the last hidden state against that id's embedding, time ids included
        every = table(torch.arange(out.logits.shape[-1]))
        torch.testing.assert_close(out.logits, out.hidden_states @ every.T, rtol=1e-4, atol=1e-4)
    # the clip's <t_k> positions carry the computed rows
    e = model.embed(batch)
    lay = model.layouts(batch)[0]
    where = [i for i, t in enumerate(lay.ids) if t in set(ids.tolist())]
    k = [ids.tolist().index(lay.ids[i]) for i in where]
    torch.testing.assert_close(e["inputs_embeds"][0, where].detach(), rows[k].detach())


@pytest.mark.parametrize("rows", ["table", "fourier"])
def test_training_moves_the_rows_of_times_no_sequence_showed(instruct_batch, rows):
    """The paper's table rows of times no sequence read or wrote move only as the softmax's negatives: each
    step lowers their logits (what keeps a model trained on short clips from ever writing a later time).
    Computed rows move with the one matrix the trained times move."""
    m, batch = instruct_batch(["data.n_train=2", "data.tasks_per_clip=1", "data.batch_size=2",
                               f"model_overrides.time_rows={rows}"])
    model = m.model
    model.embed(batch)
    ids = _time_ids(model)
    seen = {t for lay in model.layouts(batch) for t in lay.ids} & set(ids.tolist())
    was_seen = torch.isin(ids, torch.tensor(sorted(seen)))
    assert was_seen.sum() >= 10 and (~was_seen).sum() >= 20  # 8 s clips: <t_0> … <t_16> at most, of 64
    table = model.llm.get_input_embeddings()

    def state():
        with torch.no_grad():
            out = model(batch)
            answer = out.labels != -100
            return table(ids).clone(), out.logits[answer][:, ids[~was_seen]].mean()

    before, logit_before = state()
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-2)  # no weight decay
    for _ in range(3):
        opt.zero_grad()
        m.losses(batch)["loss"].backward()
        opt.step()
    after, logit_after = state()
    moved = (after - before).abs().amax(1) > 1e-6  # per time token
    assert moved[was_seen].all() and moved[~was_seen].all()
    if rows == "table":
        assert logit_after < logit_before - 0.1  # pushed down as never-written tokens


def test_the_plan_counts_what_the_fourier_model_trains():
    from chronus_lab.train.module import build_module
    from chronus_lab.train.plan import count

    cfg = TrainConfig.load("tiny-sft", [FOURIER])
    module = build_module(cfg)
    trains = sum(p.numel() for n, p in module.named_parameters() if p.requires_grad and not n.startswith("saliency"))
    assert count(cfg).trainable == trains
    table = count(TrainConfig.load("tiny-sft"))
    # 64 table rows fewer, one (1 + 2·16) × width matrix more
    width = module.model.llm.config.hidden_size
    assert count(cfg).token_rows == table.token_rows - 64 * width + 33 * width
    align = build_module(TrainConfig.load("tiny-align", [FOURIER]))
    assert not align.model.time_rows.weight.requires_grad  # stage 1 trains the projectors only


def test_the_computed_rows_survive_an_export(instruct_batch, tmp_path):
    from chronus_lab.train.module import load_export

    m, batch = instruct_batch(["data.n_train=2", "data.tasks_per_clip=1", "data.batch_size=2", FOURIER])
    with torch.no_grad():
        m.model.time_rows.weight.mul_(3.0)
    m.export(tmp_path / "export")
    again = load_export(tmp_path / "export")
    torch.testing.assert_close(again.time_rows.weight, m.model.time_rows.weight)
    m.eval()
    assert again.generate(batch) == m.model.generate(batch)


@pytest.mark.parametrize("overrides, says", [
    (["model_overrides.time_rows=grid"], "use 'table' or 'fourier'"),
    ([FOURIER, "model_overrides.time_format=text"], "time_format 'text' has none"),
    ([FOURIER, "model_overrides.time_rows_period=1"], "time_rows_period"),
])
def test_bad_time_rows_are_one_config_error(overrides, says):
    from chronus_lab.train.module import omni_config

    with pytest.raises(ConfigError, match=says):
        omni_config(TrainConfig.load("tiny-sft", overrides))


def test_rl_keeps_the_sft_rows_and_its_policy_checkpoint_carries_them(tmp_path, monkeypatch):
    from chronus_lab.model.omni import collate
    from chronus_lab.rl import run as rl_run
    from chronus_lab.rl.run import RLConfig, train_rl
    from chronus_lab.train.module import load_checkpoint
    from chronus_lab.train.run import fit, prepare
    from chronus_lab.world import WorldConfig, make_clip, make_task

    cfg = TrainConfig.load("tiny-grounding", ["data.n_train=4", "data.n_val=2", "data.n_test=2", "data.tasks_per_clip=1",
                                              "data.batch_size=4", "data.eval_kinds=[v2t]", "max_epochs=1", FOURIER,
                                              "progress_bar=false", f"out={tmp_path / 'sft'}"])
    sft_ckpt = fit(prepare(cfg, quiet=True)).last
    # a reward that differs inside every group, so the update is not zero
    monkeypatch.setattr(rl_run, "combine", lambda weights: lambda texts, **cols: (
        [float(i % 2) for i in range(len(texts))], {"temporal_iou": [0.0] * len(texts)}))
    run = train_rl(RLConfig.load("tiny-grpo", [f"init_from={sft_ckpt}", "n_clips=2", "prompts_per_step=2",
                                               "group_size=2", "iterations=1", "max_new_tokens=6", "lr=1e-2",
                                               f"out={tmp_path / 'rl'}"]), log=None)
    sft = load_checkpoint(sft_ckpt)
    torch.testing.assert_close(run.module.model.time_rows.weight, sft.model.time_rows.weight)  # RL trains adapters
    clip = make_clip(WorldConfig.tiny(), 5, 0)
    task = make_task(clip, "v2t", fmt=sft.model.answer_format)
    batch = collate([sft.model.encoders.clip_features(clip)], [task.question], [task.answer])
    with torch.no_grad():
        policy = load_checkpoint(run.folder / "policy.ckpt")
        torch.testing.assert_close(policy.model.time_rows.weight, sft.model.time_rows.weight)
        torch.testing.assert_close(policy.model(batch).logits, run.module.model(batch).logits, atol=1e-4, rtol=1e-4)
