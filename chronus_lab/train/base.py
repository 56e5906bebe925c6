"""Stage 0 (tiny mode only): base models that stand in for the hub's pretrained weights.

Built in ``notebooks/02_encoders.ipynb``; tested in ``tests/test_base.py``; trains with ``train/loop.fit``;
run by ``chronus-lab base --out assets/tiny`` (its output ships in ``assets/tiny``).

* Vision: a tiny ``CLIPModel`` trained contrastively (CLIP's symmetric InfoNCE) on frames vs.
  captions of what is visible ("a red circle and a blue square", "nothing"). Two choices matter
  (measured by the linear probe of ``chronus-lab bench probe``, what the LLM can read):
  - **one example per distinct caption in a batch**: InfoNCE treats every other caption of the batch
    as a negative, so two slices both showing "nothing" were pushed apart — the loss had a floor at
    ~2.3 it could not pass (zero-shot 0.57);
  - **the image embedding is the mean of the patch tokens** (OpenCLIP's ``global_average_pool``), not
    the CLS token: the LLM reads the *patch* tokens, and CLIP's CLS loss never trains the last
    layer's patch outputs (probe on their mean: 0.63 with CLS pooling, 0.74 with mean pooling, 0.87
    with 4 layers instead of 2 — one seed each, /tmp experiments recorded in the README).
* Audio: a tiny ``ClapModel`` trained the same way on 0.5 s audio slices vs. "a chirp sound", "silence".
* LLM: a tiny ``LlamaForCausalLM`` trained as a language model on the world's questions and answers,
  so that SFT starts from a model that already writes the answer formats.
Quality is measured on held-out clips (another seed): zero-shot class accuracy of each encoder
(single-object frames, single-sound slices) and the LM's held-out loss. It is written to the manifest.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..model.config import OmniConfig
from ..model.encoders import audio_windows, log_mel, pixel_values
from ..model.hub import quiet_transformers
from ..model.omni import build_llm
from ..model.tokenizer import save_tokenizer, train_tiny_tokenizer, world_corpus
from ..world import WorldConfig, make_clip, slices
from .loop import fit

TRAIN_SEED, HELDOUT_SEED = 20_000, 30_000


@dataclass
class BaseRecipe:
    """How the tiny base models are made (recorded in assets/tiny/manifest.json)."""

    vision_steps: int = 3000
    """Shape (not only colour) takes longer to learn from 8-px patches than sound classes do."""
    distinct_captions: bool = True
    """One example per distinct caption in a contrastive batch (see the module docstring)."""
    audio_steps: int = 300
    lm_steps: int = 600
    batch: int = 64
    lr: float = 2e-3
    n_clips: int = 300
    """Training clips (seed TRAIN_SEED); held-out quality is measured on HELDOUT_SEED. The vision loss reaches 0
    here (the slices are memorised); 3,000 clips × 6,000 vision steps gave better encoders (probe 1.000, set
    probe 0.41 vs 0.10) but a worse SFT model on them (README, 2026-12-01) — so the shipped base keeps 300."""
    seed: int = 0
    probe_clips: tuple[int, int] = (150, 60)
    """Training and test clips of the linear probe recorded in the manifest (``record_probe``)."""

    @classmethod
    def quick(cls) -> "BaseRecipe":
        """For the test: a fraction of the steps, same code."""
        return cls(vision_steps=40, audio_steps=40, lm_steps=40, n_clips=40, probe_clips=(8, 4))


def slice_examples(clips, plan=0.5):
    """Every slice of every clip: (frame, audio slice, visible caption, heard caption, labels)."""
    out = []
    for c in clips:
        parts = slices(c, plan)
        audio = audio_windows(c.audio, [p.samples for p in parts])
        for sl in parts:
            seen, heard = sl.seen, sl.heard
            out.append({"frame": c.frames[sl.frame], "audio": audio[sl.index],
                        "vision_text": " and ".join(f"a {o}" for o in seen) or "nothing",
                        "audio_text": " and ".join(f"a {s} sound" for s in heard) or "silence",
                        "seen": seen, "heard": heard})
    return out


def _text(tok, texts, length: int = 16):
    enc = tok([f"{t}{tok.eos_token}" for t in texts], padding="max_length", max_length=length,
              truncation=True, return_tensors="pt", add_special_tokens=False)
    return enc.input_ids, enc.attention_mask


def build_towers(tok, cfg: OmniConfig):
    """Random-init tiny CLIPModel and ClapModel whose towers match ``cfg``'s encoders."""
    from transformers import ClapConfig, ClapModel, CLIPConfig, CLIPModel

    text = dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, max_position_embeddings=32, pad_token_id=tok.pad_token_id,
                bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    with quiet_transformers():
        clip = CLIPModel(CLIPConfig(vision_config=cfg.vision.config, text_config=text, projection_dim=64))
        clap = ClapModel(ClapConfig(audio_config=cfg.audio.config, text_config={**text, "max_position_embeddings": 40},
                                    projection_dim=64))
    return clip, clap


def _inputs(kind: str, cfg: OmniConfig, ex: list[dict]) -> dict:
    if kind == "vision":
        return {"pixel_values": pixel_values(np.stack([e["frame"] for e in ex]), cfg.image_size)}
    mel = log_mel(torch.stack([e["audio"] for e in ex]), cfg.sample_rate, cfg.n_mels, cfg.hop_ms)
    return {"input_features": mel.unsqueeze(1)}


def distinct_batch(examples: list[dict], kind: str, size: int, gen: torch.Generator) -> list[int]:
    """Up to ``size`` random examples whose captions all differ (as sets of names, so "a and b" = "b and a")."""
    seen, idx = set(), []
    for i in torch.randperm(len(examples), generator=gen).tolist():
        key = frozenset(examples[i]["seen" if kind == "vision" else "heard"])
        if key not in seen:
            seen.add(key)
            idx.append(i)
            if len(idx) == size:
                break
    return idx


def embeddings(model, kind: str, inputs: dict) -> torch.Tensor:
    """Unnormalised item embeddings: vision = projection of the mean patch token (what the LLM reads);
    audio = CLAP's own (HTSAT already average-pools its tokens)."""
    if kind == "vision":
        tower = model.vision_model
        patches = tower(**inputs).last_hidden_state[:, 1:]
        return model.visual_projection(tower.post_layernorm(patches.mean(1)))
    return model.audio_projection(model.audio_model(**inputs).pooler_output)


def similarity(model, kind: str, inputs: dict, ids, mask) -> torch.Tensor:
    """``(items, texts)`` logits: scaled cosine similarity, as CLIP/CLAP compute them."""
    item = F.normalize(embeddings(model, kind, inputs), dim=-1)
    text = F.normalize(model.get_text_features(input_ids=ids, attention_mask=mask).pooler_output, dim=-1)
    scale = (model.logit_scale if kind == "vision" else model.logit_scale_a).exp()
    return scale * item @ text.T


def train_contrastive(model, kind: str, tok, cfg: OmniConfig, examples, recipe: BaseRecipe):
    """CLIP/CLAP training: transformers' symmetric contrastive loss on the similarity above."""
    from transformers.models.clip.modeling_clip import image_text_contrastive_loss

    gen = torch.Generator().manual_seed(recipe.seed)

    def loss_at(step: int) -> torch.Tensor:
        idx = (distinct_batch(examples, kind, recipe.batch, gen) if recipe.distinct_captions
               else torch.randint(len(examples), (recipe.batch,), generator=gen).tolist())
        ex = [examples[i] for i in idx]
        ids, mask = _text(tok, [e[f"{kind}_text"] for e in ex])
        return image_text_contrastive_loss(similarity(model, kind, _inputs(kind, cfg, ex), ids, mask))

    losses = fit(model.parameters(), loss_at, getattr(recipe, f"{kind}_steps"), recipe.lr,
                 weight_decay=0.01, one_cycle=True, module=model)
    return model, losses


@torch.no_grad()
def zero_shot_accuracy(model, kind: str, tok, cfg: OmniConfig, examples) -> tuple[float, int]:
    """Share of single-label slices whose closest class prompt is the true class."""
    classes = WorldConfig().object_classes if kind == "vision" else list(WorldConfig().sounds)
    prompts = [f"a {c}" if kind == "vision" else f"a {c} sound" for c in classes]
    ex = [e for e in examples if len(e["seen" if kind == "vision" else "heard"]) == 1]
    ids, mask = _text(tok, prompts)
    per_item = similarity(model, kind, _inputs(kind, cfg, ex), ids, mask)  # (N, classes)
    truth = torch.tensor([classes.index(e["seen" if kind == "vision" else "heard"][0]) for e in ex])
    return float((per_item.argmax(1) == truth).float().mean()), len(ex)


def train_lm(tok, cfg: OmniConfig, recipe: BaseRecipe):
    """Language-model pretraining of the tiny LLM on the world's questions and answers."""
    texts = list(world_corpus(recipe.n_clips, seed=TRAIN_SEED))
    held = list(world_corpus(40, seed=HELDOUT_SEED))
    llm = build_llm(cfg.llm, len(tok), load=False)
    gen = torch.Generator().manual_seed(recipe.seed)

    def batch(lines):
        enc = tok([f"{tok.bos_token} {t}{tok.eos_token}" for t in lines], padding=True, return_tensors="pt",
                  add_special_tokens=False)
        labels = enc.input_ids.masked_fill(enc.attention_mask == 0, -100)
        return enc.input_ids, enc.attention_mask, labels

    def loss_at(step: int) -> torch.Tensor:
        idx = torch.randint(len(texts), (recipe.batch,), generator=gen).tolist()
        ids, mask, labels = batch([texts[i] for i in idx])
        return llm(input_ids=ids, attention_mask=mask, labels=labels).loss

    losses = fit(llm.parameters(), loss_at, recipe.lm_steps, recipe.lr, weight_decay=0.01, module=llm)
    with torch.no_grad():
        held_loss = float(np.mean([llm(*batch(held[i:i + 64])[:2], labels=batch(held[i:i + 64])[2]).loss.item()
                                   for i in range(0, len(held), 64)]))
    return llm, losses, held_loss


def make_base_models(out, recipe: BaseRecipe | None = None, log=print) -> dict:
    """Train the tokenizer, both encoders and the LLM; save them (safetensors) and a manifest."""
    recipe, out = recipe or BaseRecipe(), Path(out)
    torch.manual_seed(recipe.seed)
    cfg = OmniConfig.tiny(pretrained=False)
    t0 = time.perf_counter()
    tok = train_tiny_tokenizer(cfg.max_time_tokens)
    wcfg = WorldConfig()
    train = slice_examples([make_clip(wcfg, TRAIN_SEED, i) for i in range(recipe.n_clips)])
    held = slice_examples([make_clip(wcfg, HELDOUT_SEED, i) for i in range(60)])
    clip_model, clap_model = build_towers(tok, cfg)
    quality, curves = {}, {}
    for kind, model in (("vision", clip_model), ("audio", clap_model)):
        model, curves[kind] = train_contrastive(model, kind, tok, cfg, train, recipe)
        acc, n = zero_shot_accuracy(model, kind, tok, cfg, held)
        chance = 1 / (len(wcfg.object_classes) if kind == "vision" else len(wcfg.sounds))
        quality[f"{kind}_zero_shot_accuracy"] = round(acc, 4)
        quality[f"{kind}_chance"] = round(chance, 4)
        log(f"{kind}: contrastive loss {curves[kind][0]:.2f} → {np.mean(curves[kind][-20:]):.2f}; "
            f"zero-shot accuracy on {n} held-out slices {acc:.3f} (chance {chance:.3f})")
    llm, curves["lm"], held_loss = train_lm(tok, cfg, recipe)
    quality["lm_heldout_loss"] = round(held_loss, 4)
    log(f"llm: loss {curves['lm'][0]:.2f} → {np.mean(curves['lm'][-20:]):.2f}; held-out loss {held_loss:.3f}")
    tmp = out.parent / f".{out.name}.tmp"
    save_tokenizer(tok, tmp / "tokenizer")
    clip_model.save_pretrained(tmp / "clip")
    clap_model.save_pretrained(tmp / "clap")
    llm.save_pretrained(tmp / "llm")
    manifest = {"recipe": asdict(recipe), "train_seed": TRAIN_SEED, "heldout_seed": HELDOUT_SEED,
                "quality": quality, "seconds": round(time.perf_counter() - t0, 1),
                "params": {"clip": sum(p.numel() for p in clip_model.parameters()),
                           "clap": sum(p.numel() for p in clap_model.parameters()),
                           "llm": sum(p.numel() for p in llm.parameters())},
                "curves": {k: [round(v, 4) for v in c] for k, c in curves.items()}}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    kept = install(tmp, out)
    if kept:
        log(f"kept in {out}: {', '.join(kept)} — made on the previous base models; retrain and re-ship what needs them")
    manifest = record_probe(out, *recipe.probe_clips)
    log(f"saved to {out} in {manifest['seconds']} s; linear probe vision {manifest['quality']['vision_probe_accuracy']}, "
        f"audio {manifest['quality']['audio_probe_accuracy']}")
    return manifest


BASE_PARTS = ("clap", "clip", "llm", "manifest.json", "tokenizer")


def install(new: Path, out: Path) -> list[str]:
    """Put the base models trained into ``new`` at ``out``, replacing the old ones. Anything else ``out`` holds
    (``assets/tiny`` also ships the trained grounding checkpoint and its card) is kept, not deleted with the old
    models; its names are returned."""
    import shutil

    kept = []
    if out.exists():
        for p in sorted(out.iterdir()):
            if p.name not in BASE_PARTS:
                p.replace(new / p.name)
                kept.append(p.name)
        old = out.parent / f".{out.name}.old"
        out.replace(old)
        new.replace(out)
        shutil.rmtree(old)
    else:
        new.replace(out)
    return kept


def tiny_config_from(folder) -> OmniConfig:
    """The tiny config with its base models read from ``folder`` instead of ``assets/tiny``."""
    folder = Path(folder)
    cfg = OmniConfig.tiny()
    for spec, name in ((cfg.vision, "clip"), (cfg.audio, "clap"), (cfg.llm, "llm")):
        spec.pretrained = str(folder / name)
    cfg.tokenizer = str(folder / "tokenizer")
    return cfg


def record_probe(folder, n_train: int = 150, n_test: int = 60) -> dict:
    """Measure what the saved encoders can tell (``train/probe.py``: linear probes on held-out seeds)
    and write it into the folder's manifest — the number every answer that names an object is capped by."""
    from .probe import probe_rows

    path = Path(folder) / "manifest.json"
    manifest = json.loads(path.read_text())
    rows = probe_rows(n_train, n_test, cfg=tiny_config_from(folder))
    for row in rows:
        manifest["quality"][f"{row['modality']}_probe_accuracy"] = row["probe acc"]
        manifest["quality"][f"{row['modality']}_set_probe_accuracy"] = row["set probe"]  # slices with 2+ objects / sounds
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    tmp.replace(path)
    return manifest
