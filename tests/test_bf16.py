"""bf16 end to end on CPU: the LLM in bfloat16, projectors keeping float32 master weights, and every
path — forward, a training step, generate, evaluation, export and load_export — agreeing on dtype."""
import pytest
import torch

from chronus_lab.model.omni import collate
from chronus_lab.world import WorldConfig, make_clip, make_task


@pytest.fixture(scope="module")
def modules():
    from chronus_lab.train.config import TrainConfig
    from chronus_lab.train.module import build_module

    out = {}
    for dtype in ("float32", "bfloat16"):
        torch.manual_seed(0)
        out[dtype] = build_module(TrainConfig.load("tiny-grounding", [f"model_overrides.dtype={dtype}"])).eval()
    out["bfloat16"].load_state_dict(out["float32"].state_dict())  # the same weights, rounded to bf16 in the LLM
    return out


@pytest.fixture(scope="module")
def batch(modules):
    model = modules["float32"].model
    clips = [make_clip(WorldConfig.tiny(), 5, i) for i in range(3)]
    tasks = [make_task(c, "v2t", 0, model.answer_format) for c in clips]
    feats = [model.encoders.clip_features(c) for c in clips]
    return collate(feats, [t.question for t in tasks], [t.answer for t in tasks])


def test_the_llm_is_bf16_and_the_projectors_stay_float32(modules):
    m = modules["bfloat16"].model
    assert m.llm.get_input_embeddings().weight.dtype == torch.bfloat16
    assert m.projector_dtype == torch.float32


def test_forward_in_bf16_matches_float32_to_bf16_precision(modules, batch):
    with torch.no_grad():
        ref, low = modules["float32"].model(batch), modules["bfloat16"].model(batch)
    assert low.logits.dtype == torch.bfloat16 and torch.isfinite(low.loss)
    assert low.loss.item() == pytest.approx(ref.loss.item(), rel=0.05)
    agree = (low.logits.float().argmax(-1) == ref.logits.argmax(-1)).float().mean()
    assert agree > 0.9  # bf16 keeps 8 bits of mantissa: nearly every top token survives


def test_a_training_step_in_bf16_reaches_the_projectors_and_adapters(modules, batch):
    module = modules["bfloat16"]
    module.train()
    loss = module.losses(batch)["loss"]
    loss.backward()
    grads = {n: p.grad for n, p in module.named_parameters() if p.requires_grad}
    assert any("vision_proj" in n and g is not None and g.abs().sum() > 0 for n, g in grads.items())
    assert any("lora_" in n and g is not None and g.abs().sum() > 0 for n, g in grads.items())
    module.zero_grad()
    module.eval()


def test_generate_export_and_load_export_in_bf16(modules, batch, tmp_path):
    from chronus_lab.train.module import load_export

    module = modules["bfloat16"]
    texts = module.model.generate({**batch, "answers": None}, max_new_tokens=6)
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)
    module.export(tmp_path / "export")
    again = load_export(tmp_path / "export")
    assert again.llm.get_input_embeddings().weight.dtype == torch.bfloat16
    assert again.generate({**batch, "answers": None}, max_new_tokens=6) == texts


def test_evaluation_in_bf16(modules):
    from chronus_lab.eval.harness import evaluate
    from chronus_lab.train.data import TaskDataset, eval_tasks

    model = modules["bfloat16"].model
    clips = [make_clip(WorldConfig.tiny(), 6, i) for i in range(4)]
    feats = [model.encoders.clip_features(c) for c in clips]
    ds = TaskDataset(clips, feats, eval_tasks(clips, ["v2t", "a2v"], model.answer_format), model.cfg.plan)
    ev = evaluate(model, ds, [t for _, t in ds.tasks], model.answer_format)
    assert 0 <= ev.value("v2t", "model", "mIoU") <= 1 and len(ev.predictions) == len(ds.tasks)
