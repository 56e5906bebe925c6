"""Frozen vision and audio encoders (Hugging Face classes) and their per-slice features.

Built in ``notebooks/02_encoders.ipynb``; tested in ``tests/test_encoders.py``.

* Vision = ``CLIPVisionModel``: a frame → its patch tokens (the CLS token dropped), as Meerkat
  feeds CLIP ViT-B/16's 196 patches (14×14) to its projector. Tiny: 64 px, 8 px patches → 8×8.
* Audio = ``ClapAudioModel`` (HTSAT, a Swin transformer over the log-mel "image"), or a Whisper
  encoder as ChronusOmni uses (Whisper-large-v3 ⊕ BEATs in the released code). Audio is **cut per
  time slice** before encoding, so each slice has its own audio tokens.
* Pitfall shown in the tests: ``ClapAudioModel.from_pretrained(<a ClapModel checkpoint>)`` loads
  *nothing* (keys ``audio_model.audio_encoder.*`` vs ``audio_encoder.*``) and leaves random weights
  with only a log line. We load ``ClapModel`` and keep its ``audio_model``.
* Encoders are frozen (no grad, eval mode), so their outputs are computed once per clip and cached,
  keyed by the encoders' weights *and* the clip's bytes: a retrained encoder never reads a stale cache.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ConfigError, DataError, make_folder
from ..world.slices import slices
from .config import ModelSpec, OmniConfig
from .hub import from_pretrained, quiet_transformers

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)  # CLIP's pixel normalisation
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


# --- frontends ---------------------------------------------------------------------------------
def pixel_values(frames: np.ndarray, image_size: int) -> torch.Tensor:
    """uint8 ``(N, H, W, 3)`` frames → CLIP's normalised ``(N, 3, S, S)`` float input."""
    x = torch.as_tensor(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255  # (N, 3, H, W)
    if x.shape[-1] != image_size:
        x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def mel_filters(n_fft: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    from transformers.audio_utils import mel_filter_bank

    fb = mel_filter_bank(num_frequency_bins=n_fft // 2 + 1, num_mel_filters=n_mels, min_frequency=0.0,
                         max_frequency=sample_rate / 2, sampling_rate=sample_rate, norm="slaney",
                         mel_scale="slaney")
    return torch.as_tensor(fb, dtype=torch.float32)  # (n_freq, n_mels)


def log_mel(audio: torch.Tensor, sample_rate: int, n_mels: int, hop_ms: float) -> torch.Tensor:
    """``(N, samples)`` waveforms → ``(N, frames, n_mels)`` log10 mel power (frames = samples / hop)."""
    hop = int(sample_rate * hop_ms / 1000)
    n_fft = 2 ** int(np.log2(4 * hop))  # a power of two near 4 hops: 512 at 16 kHz, 1024 at 48 kHz
    spec = torch.stft(audio, n_fft=n_fft, hop_length=hop, window=torch.hann_window(n_fft),
                      center=True, return_complex=True).abs() ** 2  # (N, n_freq, frames + 1)
    mel = spec[..., : audio.shape[-1] // hop].transpose(1, 2) @ mel_filters(n_fft, n_mels, sample_rate)
    return torch.log10(mel.clamp_min(1e-10))


def resample(audio: torch.Tensor, src: int, dst: int) -> torch.Tensor:
    """Linear-interpolation resampling (world audio is 16 kHz; CLAP HTSAT wants 48 kHz)."""
    if src == dst:
        return audio
    n = int(round(audio.shape[-1] * dst / src))
    return F.interpolate(audio.unsqueeze(1), size=n, mode="linear", align_corners=False).squeeze(1)


def audio_slices(audio: np.ndarray, n_slices: int, slice_samples: int) -> torch.Tensor:
    """Cut a clip's audio into ``(S, slice_samples)``: slice k holds what is heard in [k·Δ, (k+1)·Δ)."""
    return audio_windows(audio, [(k * slice_samples, (k + 1) * slice_samples) for k in range(n_slices)])


def audio_windows(audio: np.ndarray, windows) -> torch.Tensor:
    """``(S, width)``: the ``[lo, hi)`` sample windows of a clip's slices (all of one width, ``Slice.samples``)."""
    rows = [np.asarray(audio[lo:hi], dtype=np.float32) for lo, hi in windows]
    if len({len(r) for r in rows}) != 1:
        raise ValueError(f"audio windows must share one width inside the clip (got {sorted({len(r) for r in rows})} samples)")
    return torch.from_numpy(np.stack(rows))


# --- encoders ----------------------------------------------------------------------------------
def build_encoder(spec: ModelSpec, load: bool = True) -> nn.Module:
    """The HF model of a spec: pretrained if ``load`` and it names weights, else random init."""
    from transformers import (ClapAudioConfig, ClapConfig, ClapModel, CLIPVisionConfig,
                              CLIPVisionModel, WhisperConfig, WhisperModel)

    if spec.kind == "clip":
        if load and spec.pretrained:
            return from_pretrained(CLIPVisionModel, spec.pretrained)
        return CLIPVisionModel(CLIPVisionConfig(**spec.config))
    if spec.kind == "clap":  # load the two-tower ClapModel and keep its audio tower (see module doc)
        if load and spec.pretrained:
            return from_pretrained(ClapModel, spec.pretrained).audio_model
        with quiet_transformers():
            return ClapModel(ClapConfig(audio_config=ClapAudioConfig(**spec.config).to_dict())).audio_model
    if spec.kind == "whisper":
        if load and spec.pretrained:
            return from_pretrained(WhisperModel, spec.pretrained).get_encoder()
        return WhisperModel(WhisperConfig(**spec.config)).get_encoder()
    raise ConfigError(f"unknown encoder kind {spec.kind!r}; use clip, clap or whisper")


def audio_capacity_frames(config) -> int:
    """Mel frames the audio encoder reads at most: HTSAT's Swin "image" is ``spec_size · freq_ratio`` frames
    wide (it refuses more), a Whisper encoder ``2 · max_source_positions`` (30 s; we would cut the rest)."""
    if hasattr(config, "max_source_positions"):
        return 2 * config.max_source_positions
    return config.spec_size * (config.spec_size // config.num_mel_bins)


def check_audio_window(cfg: OmniConfig, audio_config) -> None:
    """One clear error when a slice's audio window is longer than the audio encoder reads (tiny CLAP:
    1.28 s; CLAP HTSAT: 10.24 s; Whisper: 30 s), instead of a Swin error deep in encoding or silently cut audio."""
    hop = int(cfg.sample_rate * cfg.hop_ms / 1000)
    frames = int(round(cfg.plan.window_s * cfg.sample_rate)) // hop
    cap = audio_capacity_frames(audio_config)
    if frames > cap:
        raise ConfigError(
            f"audio_window_s: {cfg.plan.window_s:g} s of audio is {frames} mel frames, more than the {cfg.audio.kind} "
            f"encoder reads ({cap} frames = {cap * cfg.hop_ms / 1000:g} s); lower model.audio_window_s (or slice_s) "
            "to fit, or use an audio encoder with a longer input")


def freeze(module: nn.Module) -> nn.Module:
    """Frozen encoders: no gradients, eval mode (dropout off, batch-norm statistics fixed)."""
    module.requires_grad_(False)
    return module.eval()


class Encoders(nn.Module):
    """The frozen vision + audio encoders of a config, and what one clip looks like to them."""

    def __init__(self, cfg: OmniConfig, load: bool = True):
        super().__init__()
        self.cfg = cfg
        self.vision = freeze(build_encoder(cfg.vision, load))
        self.audio = freeze(build_encoder(cfg.audio, load))
        check_audio_window(cfg, self.audio.config)

    @property
    def vision_dim(self) -> int:
        return self.vision.config.hidden_size

    @property
    def audio_dim(self) -> int:
        c = self.audio.config
        return getattr(c, "d_model", None) or c.hidden_size

    @torch.no_grad()
    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """``(N, H, W, 3)`` uint8 → patch tokens ``(N, P, Dv)`` (CLS dropped; P = grid²)."""
        px = pixel_values(frames, self.cfg.image_size).to(self.vision.device, self.vision.dtype)
        out = self.vision(pixel_values=px)
        return out.last_hidden_state[:, 1:]

    @torch.no_grad()
    def encode_audio(self, slices: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """``(S, samples)`` slices → audio tokens ``(S, A, Da)`` in time order."""
        c = self.cfg
        mel = log_mel(resample(slices, sample_rate, c.sample_rate), c.sample_rate, c.n_mels, c.hop_ms)
        mel = mel.to(self.audio.device, self.audio.dtype)  # the encoders may sit on the accelerator
        if self.cfg.audio.kind == "whisper":  # (S, n_mels, frames) padded to the encoder's length
            need = 2 * self.audio.config.max_source_positions
            mel = F.pad(mel.transpose(1, 2), (0, max(0, need - mel.shape[1])))[..., :need]
            return self.audio(input_features=mel).last_hidden_state  # (S, need / 2, D)
        h = self.audio(input_features=mel.unsqueeze(1)).last_hidden_state  # (S, D, F', T')
        return h.mean(2).transpose(1, 2)  # average the frequency axis → (S, T', D)

    def clip_features(self, clip) -> dict[str, torch.Tensor]:
        """A clip → ``vision (S, P, Dv)``, ``audio (S, A, Da)`` and ``times (S,)`` (the instant each slice is read at, in
        seconds), one row per slice of the config's plan."""
        parts = slices(clip, self.cfg.plan)
        v = self.encode_frames(clip.frames[[i for p in parts for i in p.frames]])  # (Σ frames, P, Dv)
        # a slice's frames averaged; a uniform plan's narrow slices may hold fewer than frames_per_slice
        v = torch.stack([chunk.mean(0) for chunk in v.split([len(p.frames) for p in parts])])  # (S, P, Dv)
        a = self.encode_audio(audio_windows(clip.audio, [p.samples for p in parts]), clip.sample_rate)
        times = torch.tensor([p.time for p in parts], dtype=torch.float64)
        return {"vision": v.float().cpu().contiguous(), "audio": a.float().cpu().contiguous(), "times": times}

    def fingerprint(self) -> str:
        """A hash of both encoders' weights and the frontend settings: the cache's first key."""
        h = hashlib.sha256()
        for module in (self.vision, self.audio):
            for name, t in sorted(module.state_dict().items()):
                h.update(name.encode())
                h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
        front = {k: getattr(self.cfg, k) for k in ("image_size", "sample_rate", "n_mels", "hop_ms")}
        front["plan"] = self.cfg.plan.to_dict()  # the same clip cut another way is another cache entry
        h.update(json.dumps(front, sort_keys=True).encode())
        return h.hexdigest()[:16]


# --- cache, and the one way to get features for a list of clips ---------------------------------
def clip_fingerprint(clip) -> str:
    h = hashlib.sha256(np.ascontiguousarray(clip.frames).tobytes())
    h.update(np.ascontiguousarray(clip.audio).tobytes())
    h.update(f"{clip.duration}/{clip.fps}/{clip.sample_rate}".encode())
    return h.hexdigest()[:16]


class FeatureCache:
    """``root/<encoders' fingerprint>/<clip fingerprint>.safetensors`` — compute once, read after."""

    def __init__(self, root, encoders: Encoders):
        self.encoders = encoders
        self.dir = make_folder(Path(root) / encoders.fingerprint(), "data.cache")
        self.hits = self.misses = 0

    def __call__(self, clip) -> dict[str, torch.Tensor]:
        return load_cached(self.path(clip))

    def path(self, clip) -> Path:
        """The clip's feature file, computed and written first if it is not there yet."""
        from safetensors.torch import save_file

        path = self.dir / f"{clip_fingerprint(clip)}.safetensors"
        if path.exists():
            self.hits += 1
            return path
        self.misses += 1
        feats = self.encoders.clip_features(clip)
        tmp = path.with_suffix(".tmp")
        save_file(feats, tmp)
        tmp.replace(path)  # atomic: a killed run never leaves a half file that loads
        return path


class CachedFeatures:
    """A list of per-clip feature files read when indexed: a dataset's memory does not grow with its clips."""

    def __init__(self, paths: list[Path]):
        self.paths = list(paths)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return load_cached(self.paths[i])


def load_cached(path: Path) -> dict[str, torch.Tensor]:
    """One clip's cached features, or one DataError naming the file: a cache is derived data, so the remedy
    for a damaged or vanished file (a full disk, a hand edit, a cleaned folder) is to delete it and let it be
    computed again."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError) as err:  # a damaged file, a vanished one
        raise DataError(f"the cached features {path} cannot be read ({type(err).__name__}: "
                        f"{str(err).splitlines()[0] if str(err) else 'no detail'}): delete that file (or its folder "
                        f"{Path(path).parent}) and run again — features are computed again where missing") from None


def encode_clips(encoders: Encoders, clips: list, cache=None) -> list[dict[str, torch.Tensor]]:
    """Per-slice features of every clip, through a ``FeatureCache`` folder when ``cache`` is given.

    The one path from clips to features: the data module, the probes and every experiment use it.
    """
    encode = FeatureCache(cache, encoders) if cache else encoders.clip_features
    return [encode(c) for c in clips]
