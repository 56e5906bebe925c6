"""Full-scale configs on CPU without weights: meta-device builds, parameter counts, offline message."""
import pytest
import torch

from chronus_lab.model.config import OmniConfig, OmniConfigError
from chronus_lab.model.encoders import build_encoder
from chronus_lab.model.hub import WeightsNotAvailable
from chronus_lab.model.omni import OmniModel, build_llm


def _n(m):
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", ["llama2-7b", "qwen2.5-7b"])
def test_full_llm_builds_on_meta_with_the_known_size(name):
    spec = OmniConfig.full(llm=name).llm
    with torch.device("meta"):
        llm = build_llm(spec, vocab_size=100, load=False)
    assert _n(llm) == spec.params  # 6,738,415,616 (Llama-2-7B) / 7,615,616,512 (Qwen2.5-7B)


def test_full_encoders_build_on_meta_with_the_known_size():
    cfg = OmniConfig.full()
    with torch.device("meta"):
        vision, audio = build_encoder(cfg.vision, load=False), build_encoder(cfg.audio, load=False)
    assert _n(vision) == cfg.vision.params  # CLIP ViT-B/16 vision tower
    assert _n(audio) == cfg.audio.params  # CLAP HTSAT audio tower
    # and against the published round figures: ViT-B/16 ≈ 86 M, HTS-AT ≈ 28 M
    assert abs(_n(vision) / 86e6 - 1) < 0.02 and abs(_n(audio) / 28e6 - 1) < 0.05
    assert (vision.config.image_size // vision.config.patch_size) ** 2 == 196  # Meerkat's 14×14 patches


def test_full_model_sequence_shape_on_meta(tiny_tok):
    cfg = OmniConfig.full()
    with torch.device("meta"):
        model = OmniModel(cfg, tokenizer=tiny_tok, load=False)
        batch = {"vision": torch.empty(1, 16, 196, 768), "audio": torch.empty(1, 16, 64, 768),
                 "n_slices": [16], "times": [[k * 0.5 for k in range(16)]], "questions": ["When is the red circle on screen?"], "answers": ["<t_1> <t_4>"]}
        e = model.embed(batch)
    per_slice = 1 + cfg.vision_tokens + cfg.audio_tokens  # <t_k>, 16 visual, 4 audio
    lay = model.layouts(batch)[0]
    assert e["inputs_embeds"].shape == (1, len(lay), 4096)
    assert sum(s >= 0 for s in lay.slice_idx) == 16 * per_slice


def test_offline_hub_id_gives_one_clear_message(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(WeightsNotAvailable, match="huggingface-cli download openai/clip-vit-base-patch16"):
        build_encoder(OmniConfig.full().vision)


def test_missing_local_assets_say_how_to_make_them():
    spec = OmniConfig.tiny().vision
    spec.pretrained = "./no/such/folder"
    with pytest.raises(WeightsNotAvailable, match="chronus-lab base"):
        build_encoder(spec)


@pytest.mark.parametrize("damage", ["weights cut short", "weights garbage", "config not JSON"])
def test_damaged_local_assets_are_one_message_that_says_how_to_restore_them(tmp_path, damage):
    """A cut-short model.safetensors ended in safetensors' own error; a broken config.json in one about the hub."""
    import shutil

    spec = OmniConfig.tiny().vision
    folder = tmp_path / "clip"
    shutil.copytree(spec.pretrained, folder)
    weights, config = folder / "model.safetensors", folder / "config.json"
    if damage == "weights cut short":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "weights garbage":
        weights.write_bytes(b"not a safetensors file" * 50)
    else:
        config.write_text(config.read_text()[:-40])
    spec.pretrained = str(folder)
    with pytest.raises(WeightsNotAvailable, match="does not load .*damaged.*chronus-lab base") as info:
        build_encoder(spec)
    assert str(folder) in str(info.value) and "\n" not in str(info.value)


def test_bad_config_values_name_the_field():
    with pytest.raises(OmniConfigError, match="vision_tokens"):
        OmniConfig.tiny(vision_tokens=5)
    with pytest.raises(OmniConfigError, match="time_format"):
        OmniConfig.tiny(time_format="sundial")
    with pytest.raises(OmniConfigError, match="choose one of"):
        OmniConfig.full(llm="gpt-5")
    with pytest.raises(OmniConfigError, match="audio_context"):
        OmniConfig.tiny(audio_context=-1)


def test_config_round_trips_through_a_dict():
    cfg = OmniConfig.full(llm="qwen2.5-7b")
    assert OmniConfig.from_dict(cfg.to_dict()) == cfg
