"""Slice naming (``train/naming.py``): its targets against the clip's own ground truth, its loss against
torch's soft-target cross-entropy, and that training on it makes the feature positions name their slice."""
import torch
import torch.nn.functional as F

from chronus_lab.model.timestamps import AUDIO, VISION
from chronus_lab.train.module import InstructModule
from chronus_lab.train.naming import NameTargets, naming_loss, slice_names, slice_partners
from chronus_lab.world import WorldConfig, make_clip, slices
from chronus_lab.world.tasks import make_task
from chronus_lab.world.slices import SlicePlan


def test_slice_names_are_what_the_clip_shows_and_plays_at_each_slice_time():
    clip = make_clip(WorldConfig.named("tiny"), 5, 3)
    for plan, times in ((SlicePlan(slice_s=0.5), [k * 0.5 for k in range(16)]),
                        (SlicePlan(slices_per_clip=4, read_at="middle"), [1.0, 3.0, 5.0, 7.0])):
        names = slice_names(slices(clip, plan))
        assert len(names) == len(times)
        for (seen, heard), t in zip(names, times):
            assert seen == (" and ".join(clip.visible_at(t)) or "nothing")
            assert heard == (" and ".join(clip.heard_at(t)) or "nothing")
    assert any(s != "nothing" for s, _ in slice_names(slices(clip, SlicePlan(slice_s=0.5))))


def test_slice_partners_are_the_pairs_the_implicit_questions_ask_for():
    """At every slice showing one object, its visual partner is the v2a answer about that object (its sound, or
    "nothing" for a silent one); at every slice where one sound is heard, its audio partner is the a2v answer
    about that sound or "nothing" for a sound nothing on screen makes. The answers come from the task writer."""
    cfg, checked = WorldConfig.named("tiny"), 0
    for index in range(12):
        clip = make_clip(cfg, 7, index)
        parts = slices(clip, SlicePlan(slice_s=0.5))
        partners = slice_partners(parts)
        answers = {kind: {t.target["event"]: t.answer for t in (make_task(clip, kind, seed) for seed in range(40))}
                   for kind in ("v2a", "a2v")}
        v2a, a2v = answers["v2a"], answers["a2v"]
        for s, (seen_partner, heard_partner) in zip(parts, partners):
            if len(s.objects) == 1 and s.objects[0].id in v2a:
                assert seen_partner == v2a[s.objects[0].id]
                checked += 1
            if len(s.sounds) == 1:
                assert heard_partner == a2v.get(s.sounds[0].id, "nothing")
                checked += 1
            if not s.objects:
                assert seen_partner == "nothing"
    assert checked > 100


class _Words:
    """A stand-in tokenizer: one id per word."""

    vocab = {"red": 1, "circle": 2, "and": 3, "blue": 4, "nothing": 5, "tone": 6}

    def __call__(self, text, add_special_tokens=False):
        assert text.startswith(" ")  # names are tokenized as answers are written: after a space
        return {"input_ids": [self.vocab[w] for w in text.split()]}


def test_naming_loss_is_soft_target_cross_entropy_over_the_feature_positions():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 8)
    modality = torch.tensor([[0, VISION, AUDIO, VISION, AUDIO], [0, VISION, AUDIO, -1, -1]])
    slice_idx = torch.tensor([[-1, 0, 0, 1, 1], [-1, 0, 0, -1, -1]])
    names = [[("red circle", "tone"), ("nothing", "nothing")], [("red circle and blue circle", "nothing")]]
    got = naming_loss(logits, modality, slice_idx, names, NameTargets(_Words()))

    def soft(ids):  # the bag of a label's distinct words, uniform
        t = torch.zeros(8)
        t[sorted(set(ids))] = 1 / len(set(ids))
        return t

    pos = [(0, 1, [1, 2]), (0, 3, [5]), (1, 1, [1, 2, 3, 4]), (0, 2, [6]), (0, 4, [5]), (1, 2, [5])]
    want = F.cross_entropy(torch.stack([logits[b, p] for b, p, _ in pos]), torch.stack([soft(i) for *_, i in pos]))
    assert torch.allclose(got, want)


def test_training_on_naming_makes_feature_positions_name_their_slice(instruct_batch, train_on):
    """A few steps on one batch with ``w_naming`` only: the visual positions' greedy token becomes a word of
    what is on screen in their slice far more often than before."""
    m, batch = instruct_batch(["data.n_train=4", "data.tasks_per_clip=1", "data.batch_size=4", "w_naming=1"])
    cfg = m.cfg
    tok = m.model.tokenizer

    def named_right() -> float:
        out = m.model(batch)
        hits = []
        for b, per_slice in enumerate(batch["names"]):
            for p in (out.modality[b] == VISION).nonzero().flatten().tolist():
                words = set(tok(" " + per_slice[int(out.slice_idx[b, p])][0], add_special_tokens=False)["input_ids"])
                hits.append(int(out.logits[b, p].argmax()) in words)
        return sum(hits) / len(hits)

    before = named_right()
    parts = m.losses(batch)
    assert set(parts) == {"loss", "lm", "naming"} and parts["naming"] > 0
    train_on(m, batch, "naming", steps=60)
    after = named_right()
    assert after > max(0.8, before + 0.3), (before, after)
    assert set(InstructModule(cfg.replace(w_naming=0.0)).losses(batch)) == {"loss"}  # the papers' loss alone


def test_naming_layer_reads_a_middle_layer_as_a_shallower_model_would_end(instruct_batch):
    """``naming_layer=k`` (a logit lens): the logits read off layer k equal those of the same LLM cut after k
    layers (its own final norm and head) — an independent forward pass; a layer the LLM lacks is refused."""
    import copy

    import pytest

    from chronus_lab.errors import ConfigError

    m, batch = instruct_batch(["data.n_train=2", "data.tasks_per_clip=1", "data.batch_size=2", "w_naming=1",
                               "naming_layer=2"])
    cfg = m.cfg
    with torch.no_grad():
        out = m.model(batch)
        cut = copy.deepcopy(m.model.llm.get_base_model())
        cut.model.layers = cut.model.layers[:2]
        cut.config.num_hidden_layers = 2
        e = m.model.embed(batch)
        want = cut(inputs_embeds=e["inputs_embeds"], attention_mask=e["attention_mask"]).logits
        got = m.model.lens_logits(out.layers[2])
    assert len(out.layers) == m.model.llm.config.num_hidden_layers + 1
    assert torch.allclose(got, want, atol=1e-5) and not torch.allclose(got, out.logits, atol=1e-3)
    assert m.losses(batch)["naming"] > 0
    with pytest.raises(ConfigError, match="naming_layer=9: this LLM has 4 decoder layers"):
        InstructModule(cfg.replace(naming_layer=9))


def test_training_on_pairing_makes_visual_positions_name_the_sound_their_object_makes(instruct_batch, train_on):
    """``w_pairing`` alone, read one layer below the last (``pairing_layer=-2``, a logit lens): after a few steps
    on one batch the visual positions' greedy token there is a word of their object's sound ("nothing" for a
    silent object or an empty slice) far more often than before; a layer the LLM lacks is refused."""
    import pytest

    from chronus_lab.errors import ConfigError

    m, batch = instruct_batch(["data.n_train=4", "data.tasks_per_clip=1", "data.batch_size=4", "w_pairing=1"])
    tok = m.model.tokenizer

    def paired_right() -> float:
        out = m.model(batch)
        logits = m.model.lens_logits(out.layers[-2])
        hits = []
        for b, per_slice in enumerate(batch["partners"]):
            for p in (out.modality[b] == VISION).nonzero().flatten().tolist():
                words = set(tok(" " + per_slice[int(out.slice_idx[b, p])][0], add_special_tokens=False)["input_ids"])
                hits.append(int(logits[b, p].argmax()) in words)
        return sum(hits) / len(hits)

    before = paired_right()
    assert set(m.losses(batch)) == {"loss", "lm", "pairing"}
    train_on(m, batch, "pairing", steps=60)
    after = paired_right()
    assert after > max(0.8, before + 0.3), (before, after)
    with pytest.raises(ConfigError, match="pairing_layer=-5: this LLM has 4 decoder layers"):
        InstructModule(m.cfg.replace(pairing_layer=-5))
