"""The Omni model: features land where the layout says, labels mask all but the answer, generate works."""
import torch

from chronus_lab.model.omni import IGNORE, collate
from chronus_lab.model.timestamps import AUDIO, VISION, TokenTime
from chronus_lab.world import WorldConfig, make_clip, make_tasks


def _batch(model, clips, kind="v2t"):
    feats = [model.encoders.clip_features(c) for c in clips]
    tasks = [make_tasks(c, kinds=(kind,), fmt=TokenTime())[0] for c in clips]
    return collate(feats, [t.question for t in tasks], [t.answer for t in tasks]), tasks


def test_projected_features_sit_at_their_positions(tiny_model, clips):
    batch, _ = _batch(tiny_model, [c for c, _ in clips[:2]])
    e = tiny_model.embed(batch)
    v = tiny_model.vision_proj(batch["vision"])  # (B, S, 4, H)
    a = tiny_model.audio_proj(batch["audio"])
    for b in range(2):
        torch.testing.assert_close(e["inputs_embeds"][b][e["modality"][b] == VISION], v[b].reshape(-1, v.shape[-1]))
        torch.testing.assert_close(e["inputs_embeds"][b][e["modality"][b] == AUDIO], a[b].reshape(-1, a.shape[-1]))
        # slice k's visual tokens come from slice k's features
        assert e["slice_idx"][b][e["modality"][b] == VISION].tolist() == [k for k in range(16) for _ in range(4)]


def test_labels_mask_everything_but_the_answer(tiny_model, clips):
    batch, tasks = _batch(tiny_model, [c for c, _ in clips[:3]])
    e = tiny_model.embed(batch)
    tok = tiny_model.tokenizer
    for b, task in enumerate(tasks):
        kept = e["labels"][b][e["labels"][b] != IGNORE].tolist()
        assert kept[-1] == tok.eos_token_id
        assert TokenTime().parse_span(tok.decode(kept[:-1])) == tuple(task.target["span"])


def test_loss_trains_projectors_and_llm_not_encoders(tiny_model, clips):
    batch, _ = _batch(tiny_model, [c for c, _ in clips[:2]])
    out = tiny_model(batch)
    assert out.loss is not None and torch.isfinite(out.loss)
    assert out.hidden_states.shape[:2] == out.modality.shape == out.logits.shape[:2]
    out.loss.backward()
    assert tiny_model.vision_proj.fc1.weight.grad is not None
    assert all(p.grad is None for p in tiny_model.encoders.parameters())
    tiny_model.zero_grad()


def test_padding_for_clips_of_different_length(tiny_model):
    clips = [make_clip(WorldConfig.varying(), 0, i) for i in range(4)]
    batch, _ = _batch(tiny_model, clips)
    assert sorted(set(batch["n_slices"])) == sorted({int(c.duration / 0.5) for c in clips})
    e = tiny_model.embed(batch)
    lengths = e["attention_mask"].sum(1)
    assert lengths.max() == e["inputs_embeds"].shape[1] and lengths.min() < lengths.max()


def test_batched_generate_equals_one_by_one(tiny_model, clips):
    batch, _ = _batch(tiny_model, [c for c, _ in clips[:3]])
    together = tiny_model.generate(batch, max_new_tokens=6)
    alone = [tiny_model.generate(collate([{"vision": batch["vision"][i, :s], "audio": batch["audio"][i, :s],
                                                   "times": batch["times"][i]}],
                                         [batch["questions"][i]]), max_new_tokens=6)[0]
             for i, s in enumerate(batch["n_slices"])]
    assert together == alone
    assert all(isinstance(t, str) for t in together)


def test_early_fusion_adds_audio_and_time_to_each_slice(tiny_model, tiny_tok, clips):
    """fusion="early": visual token = projected patch + slice's mean audio token + its <t_k> embedding."""
    from chronus_lab.model.config import OmniConfig
    from chronus_lab.model.omni import OmniModel

    fused = OmniModel(OmniConfig.tiny(fusion="early"), tokenizer=tiny_tok)
    fused.load_state_dict(tiny_model.state_dict())
    batch, _ = _batch(fused, [c for c, _ in clips[:2]])
    e = fused.embed(batch)
    v, a = fused.vision_proj(batch["vision"]), fused.audio_proj(batch["audio"])
    emb = fused.llm.get_input_embeddings()
    when = emb(torch.tensor(tiny_tok.convert_tokens_to_ids([f"<t_{k}>" for k in range(16)])))  # (16, H)
    for b in range(2):
        want_v = v[b] + a[b].mean(1, keepdim=True) + when[:, None]
        torch.testing.assert_close(e["inputs_embeds"][b][e["modality"][b] == VISION], want_v.reshape(-1, v.shape[-1]))
        want_a = a[b] + when[:, None]
        torch.testing.assert_close(e["inputs_embeds"][b][e["modality"][b] == AUDIO], want_a.reshape(-1, a.shape[-1]))
    plain = tiny_model.embed(batch)["inputs_embeds"]
    assert plain.shape == e["inputs_embeds"].shape  # same layout, only the feature positions change
