"""The memory planner: its counts against published sizes and LoRA's formula, its activation
measurement on meta against real tensors on the CPU, and the strategies' arithmetic."""
import pytest
import torch

from chronus_lab.errors import ConfigError
from chronus_lab.model.config import OmniConfig
from chronus_lab.train.config import TrainConfig
from chronus_lab.train.plan import GIB, count, plan, saved_bytes, sequence_length


@pytest.fixture(scope="module")
def full():
    cfg = TrainConfig.load("full-sft")
    return cfg, count(cfg)


def test_full_counts_match_the_published_sizes_and_loras_formula(full):
    cfg, c = full
    spec = OmniConfig.full(llm=cfg.llm)
    assert c.encoders == spec.vision.params + spec.audio.params  # CLIP ViT-B/16 + CLAP HTSAT
    added = 2 + spec.max_time_tokens  # <vision>, <audio>, <t_0> … <t_63>: rows of the embedding and the head
    assert c.llm == spec.llm.params + 2 * added * c.hidden  # Llama-2 unties its head
    # LoRA on q, k, v, o of every layer: r × (in + out) each, 4096 × 4096 projections in Llama-2-7B
    assert c.lora == c.layers * 4 * cfg.lora.r * (4096 + 4096) == 33_554_432
    assert c.token_rows == 2 * added * c.hidden  # the added tokens' rows train: embedding and untied head
    assert c.trainable == c.lora + c.token_rows + c.projectors


def test_the_meta_measurement_of_a_layer_matches_real_tensors_on_the_cpu():
    """The tiny LLM's decoder layer: saved bytes per token measured on meta (math attention, its s × s part
    removed) against the same layer run on real CPU tensors, where attention keeps no s × s matrix."""
    from chronus_lab.train.module import build_module
    from chronus_lab.train.plan import _decoder, layer_bytes_per_token

    cfg = TrainConfig.load("tiny-grounding")
    meta = count(cfg).layer_bytes_per_token
    module = build_module(cfg)
    llm = module.model.llm
    layers, rotary = _decoder(llm)
    s = 200
    x = torch.randn(1, s, llm.config.hidden_size, requires_grad=True)
    pos = torch.arange(s)[None]
    pe = rotary(x, pos)
    real = saved_bytes(lambda: layers[0](x, attention_mask=None, position_embeddings=pe, position_ids=pos),
                       exclude=list(llm.parameters())) / s
    assert real == pytest.approx(meta, rel=0.1)
    assert layer_bytes_per_token(llm) == pytest.approx(meta, rel=0.1)  # the same function on real tensors


def test_the_whole_tiny_model_keeps_what_the_plan_says():
    """A real training forward of the tiny model (CPU) against the plan's activation row."""
    from chronus_lab.train.module import build_module

    cfg = TrainConfig.load("tiny-grounding", ["data.batch_size=2"])
    llm = build_module(cfg).model.llm
    s = sequence_length(cfg)
    x = torch.randn(2, s, llm.config.hidden_size)
    labels = torch.randint(0, 100, (2, s))
    measured = saved_bytes(lambda: llm(inputs_embeds=x, labels=labels), exclude=list(llm.parameters()))
    planned = plan(cfg, counts=count(cfg))[0]["activations"] * GIB
    assert measured == pytest.approx(planned, rel=0.3)


def test_fsdp_divides_the_states_and_ddp_replicates_them(full):
    cfg, c = full
    one = plan(cfg, 1, 80, "ddp", counts=c)[0]
    ddp, fsdp = plan(cfg, 4, 80, "ddp", counts=c)[0], plan(cfg, 4, 80, "fsdp", counts=c)[0]
    for key in ("weights", "grads", "AdamW"):
        assert ddp[key] == one[key] and fsdp[key] == pytest.approx(one[key] / 4)
    assert ddp["activations"] == fsdp["activations"] == one["activations"]  # per device either way
    assert one["weights"] == pytest.approx((c.frozen * 2 + c.trainable * 4) / GIB)  # bf16 frozen, fp32 trainable
    on, off = plan(cfg, counts=c)[1], plan(cfg, counts=c)[0]
    assert on["activations"] < off["activations"] / 4  # checkpointing keeps a layer's input, not its inside
    assert plan(cfg, 1, 8, counts=c)[0]["fits"] == "no"


def test_bad_plan_options_are_one_clear_error(full):
    cfg, c = full
    for kwargs in ({"devices": 0}, {"gpu_mem_gib": -1}, {"strategy": "zero9"}):
        with pytest.raises(ConfigError, match="plan:"):
            plan(cfg, counts=c, **kwargs)


def test_the_plan_command_prints_the_table(capsys):
    from chronus_lab.cli import main

    assert main(["plan", "--config", "tiny-grounding", "--devices", "2", "--strategy", "fsdp"]) == 0
    out = capsys.readouterr().out
    assert f"{205_440 + 66 * 128:,} trainable" in out  # LoRA + projectors + 66 added tokens' rows (tied head) and "fsdp" in out and "checkpointing" in out
    assert main(["plan", "--config", "tiny-grounding", "--set", "data.batch_size=0"]) == 2


@pytest.mark.parametrize("recipe", ["meerkat-stage1", "meerkat-sft", "chronus-sft"])
def test_the_per_paper_recipes_build_on_meta_with_the_papers_settings(recipe):
    cfg = TrainConfig.load(recipe)
    c = count(cfg)
    spec = OmniConfig.full(llm=cfg.llm, audio=cfg.audio_encoder)
    assert (cfg.model, cfg.precision, cfg.gradient_checkpointing) == ("full", "bf16-mixed", True)
    assert c.encoders == spec.vision.params + spec.audio.params
    if recipe == "meerkat-stage1":  # the LLM frozen: only the projectors learn
        assert cfg.stage == 1 and c.trainable == c.projectors and c.lora == 0
        assert (cfg.w_ot, cfg.w_avace) == (0.01, 0.2)
    else:
        lora = cfg.lora
        hidden = c.hidden
        kv = spec.llm.config["num_key_value_heads"] * hidden // spec.llm.config["num_attention_heads"]
        per_layer = lora.r * ((hidden + hidden) * 2 + (hidden + kv) * 2)  # q, o: h → h; k, v: h → kv width
        assert c.lora == c.layers * per_layer and c.trainable == c.lora + c.token_rows + c.projectors
        assert c.token_rows == 2 * (2 + spec.max_time_tokens) * hidden  # both papers' LLMs untie their head
    if recipe == "meerkat-sft":
        assert (cfg.lora.r, cfg.lora.alpha, cfg.lora.dropout, cfg.llm) == (32, 32, 0.1, "llama2-7b")
    if recipe == "chronus-sft":  # Whisper-large-v3's encoder, ~0.64 B of its 1.55 B; text time stamps
        assert cfg.llm == "qwen2.5-7b" and abs(spec.audio.params / 635e6 - 1) < 0.02
        assert cfg.model_overrides["time_format"] == "text" and cfg.strategy == "fsdp"
        tokens = TrainConfig.load(recipe, ["model_overrides.time_format=token"])
        assert sequence_length(cfg) > sequence_length(tokens)  # `second{x}` costs positions
    on = plan(cfg, 4, 80, counts=c)[1]
    assert on["checkpointing"] == "on (recipe)" and on["fits"] == "yes"


def test_a_recipe_asking_for_checkpointing_gets_it(tmp_path):
    from chronus_lab.train.run import prepare

    for flag in (False, True):
        cfg = TrainConfig.load("tiny-grounding", [f"gradient_checkpointing={str(flag).lower()}", f"out={tmp_path}/{flag}"])
        llm = prepare(cfg, quiet=True).module.model.llm
        assert any(getattr(m, "gradient_checkpointing", False) for m in llm.modules()) == flag
