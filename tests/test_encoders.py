"""Encoders: shapes per slice, frozen, the CLAP loading pitfall, and a cache that is never stale."""
import numpy as np
import pytest
import torch

from chronus_lab.model.config import OmniConfig
from chronus_lab.model.encoders import (CLIP_MEAN, Encoders, FeatureCache, build_encoder, log_mel, pixel_values)
from chronus_lab.world import WorldConfig, make_clip


@pytest.fixture(scope="module")
def encoders():
    return Encoders(OmniConfig.tiny())


def test_clip_features_have_one_row_per_slice(encoders, clips):
    clip, _ = clips[0]
    f = encoders.clip_features(clip)
    assert f["vision"].shape == (16, 64, 64)  # 16 slices × 8×8 patches × width 64
    assert f["audio"].shape == (16, 16, 64)  # 16 slices × 16 time steps × width 64
    assert torch.isfinite(f["vision"]).all() and torch.isfinite(f["audio"]).all()


def test_varying_durations_give_varying_slices(encoders):
    clip = make_clip(WorldConfig.varying(), 0, 1)
    assert encoders.clip_features(clip)["vision"].shape[0] == int(clip.duration / 0.5)


def test_encoders_are_frozen(encoders):
    assert not any(p.requires_grad for p in encoders.parameters())
    assert not encoders.vision.training and not encoders.audio.training


def test_frontends():
    frames = np.zeros((2, 64, 64, 3), np.uint8)
    x = pixel_values(frames, 224)
    assert x.shape == (2, 3, 224, 224)
    torch.testing.assert_close(x[0, 0, 0, 0], torch.tensor(-CLIP_MEAN[0] / 0.26862954))
    t = torch.arange(8000) / 16000
    mel = log_mel(torch.sin(2 * torch.pi * 440 * t)[None], 16000, 32, 10.0)
    assert mel.shape == (1, 50, 32)
    # a 440 Hz tone puts its energy in a low mel band, the same one in every frame
    assert mel[0].argmax(1).unique().numel() == 1 and mel[0, 10].argmax() < 8


def test_clap_audio_model_from_a_clap_checkpoint_loads_nothing(tmp_path):
    """The pitfall: ClapAudioModel.from_pretrained silently keeps random weights; ours does not."""
    from transformers import ClapAudioModel

    from chronus_lab.model.hub import quiet_transformers

    spec = OmniConfig.tiny().audio
    ours = build_encoder(spec)  # ClapModel(...).audio_model from assets/tiny/clap
    with quiet_transformers():
        naive = ClapAudioModel.from_pretrained(spec.pretrained)
    key = "audio_encoder.patch_embed.proj.weight"
    trained = ours.state_dict()[key]
    assert not torch.equal(naive.state_dict()[key], trained)
    from safetensors.torch import load_file

    saved = load_file(f"{spec.pretrained}/model.safetensors")
    assert torch.equal(saved[f"audio_model.{key}"], trained)


def test_whisper_encoder_is_an_option():
    spec = OmniConfig.tiny().audio.__class__("whisper", None, dict(
        num_mel_bins=32, d_model=64, encoder_layers=2, encoder_attention_heads=4, decoder_layers=1,
        decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128, max_source_positions=25,
        vocab_size=100, pad_token_id=0, bos_token_id=1, eos_token_id=2, decoder_start_token_id=1))
    enc = Encoders(OmniConfig.tiny(audio=spec))
    out = enc.encode_audio(torch.randn(3, 8000), 16000)
    assert out.shape == (3, 25, 64)


@pytest.mark.parametrize("damage", ["cut short", "garbage", "deleted"])
def test_a_damaged_cache_file_is_one_error_that_names_it_and_deleting_it_heals(encoders, clips, tmp_path, damage):
    """A cut-short, overwritten or vanished feature file ended in safetensors' own error mid-training."""
    from chronus_lab.errors import DataError
    from chronus_lab.model.encoders import CachedFeatures

    clip, _ = clips[1]
    cache = FeatureCache(tmp_path, encoders)
    good = {k: v.clone() for k, v in cache(clip).items()}  # safetensors maps the file: copy before damaging it
    path = cache.path(clip)
    raw = path.read_bytes()
    path.unlink()  # a new file, as a copy or an editor makes: rewriting the mapped one in place is a bus error
    if damage == "deleted":
        reader = CachedFeatures([path])
    else:
        path.write_bytes(raw[: len(raw) // 2] if damage == "cut short" else b"not safetensors" * 10)
        reader = CachedFeatures([path])
        with pytest.raises(DataError, match="delete that file") as info:
            cache(clip)
        assert str(path) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(DataError, match="cannot be read"):
        reader[0]
    path.unlink(missing_ok=True)  # what the message says to do
    torch.testing.assert_close(cache(clip)["vision"], good["vision"])


def test_a_cache_folder_that_cannot_be_made_is_one_config_error(encoders, tmp_path):
    from chronus_lab.errors import ConfigError

    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.raises(ConfigError, match="data.cache: cannot create the folder .*--set data.cache=data/features"):
        FeatureCache(tmp_path / "file" / "cache", encoders)


def test_cache_hits_and_invalidates(encoders, clips, tmp_path):
    clip, _ = clips[1]
    cache = FeatureCache(tmp_path, encoders)
    first = cache(clip)
    again = cache(clip)
    assert (cache.hits, cache.misses) == (1, 1)
    torch.testing.assert_close(first["vision"], again["vision"])
    # another clip: a miss
    cache(clips[2][0])
    assert cache.misses == 2
    # retrained encoder: a new fingerprint, so the old entries are never read
    other = Encoders(OmniConfig.tiny())
    with torch.no_grad():
        next(other.vision.parameters()).add_(0.01)
    cache2 = FeatureCache(tmp_path, other)
    assert cache2.dir != cache.dir
    fresh = cache2(clip)
    assert cache2.misses == 1 and not torch.equal(fresh["vision"], first["vision"])
    # an edited clip (same id, other pixels): a miss too
    clip2 = make_clip(WorldConfig(), 7, 1)
    clip2.frames = clip2.frames.copy()
    clip2.frames[0, 0, 0] = 255
    cache(clip2)
    assert cache.misses == 3
