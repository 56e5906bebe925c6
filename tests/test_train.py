"""Lightning training: config, data module, both stages, export, resume, CLI (all tiny, seconds each)."""
import pytest
import torch

from chronus_lab.errors import CheckpointError, ConfigError
from chronus_lab.train.config import SINGLE_HOP, TrainConfig, TrainConfigError
from chronus_lab.train.data import EpochSampler, OmniDataModule
from chronus_lab.train.module import AlignModule, InstructModule, build_module, load_checkpoint, load_export
from chronus_lab.train.run import fit, prepare


def small(tmp_path, **changes) -> TrainConfig:
    """A run of seconds: 8 training clips × 2 tasks, batches of 4; val/test ask two kinds (the per-epoch
    greedy decoding that chooses best.ckpt stays a second)."""
    over = ["data.n_train=8", "data.n_val=3", "data.n_test=3", "data.tasks_per_clip=2", "data.batch_size=4",
            "data.eval_kinds=[v2t, a2v]",
            "max_epochs=2", "warmup_steps=2", "progress_bar=false", f"out={tmp_path / 'run'}"]
    cfg = TrainConfig.load("tiny-sft", over)
    return cfg.replace(**changes) if changes else cfg


# --- config ------------------------------------------------------------------------------------
def test_packaged_recipes_load_and_round_trip(tmp_path):
    for name in ("tiny-sft", "tiny-grounding", "tiny-align", "full-sft"):
        cfg = TrainConfig.load(name)
        back = TrainConfig.load(str(cfg.save(tmp_path / f"{name}.yaml")))
        assert back == cfg

    def flat(d, pre=""):
        return {k: v for key, val in d.items()
                for k, v in (flat(val, f"{pre}{key}.").items() if isinstance(val, dict) else [(pre + key, val)])}

    def differs(a, b):  # the flat keys two recipes set differently
        a, b = (flat(TrainConfig.load(name).to_dict()) for name in (a, b))
        return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}

    # each derived recipe differs from its parent by what its header says, and nothing else
    assert differs("tiny-grounding", "tiny-grounding-4-16s") == {
        "data.world", "data.group_by_length", "model_overrides.question_again", "out"}
    assert differs("tiny-grounding-4-16s", "tiny-grounding-any-length") == {
        "position_skip", "model_overrides.time_rows", "model_overrides.time_rows_period", "max_epochs", "out"}
    full = TrainConfig.load("full-sft")
    assert (full.model, full.precision, full.lora.r) == ("full", "bf16-mixed", 32)


def test_overrides_and_clear_errors():
    cfg = TrainConfig.load("tiny-sft", ["lora.r=4", "data.mixture={v2t: 1}", "finetune=full"])
    assert cfg.lora.r == 4 and cfg.data.mixture == {"v2t": 1} and cfg.finetune == "full"
    bad = [(["data.seeds=[1, 1, 2]"], "data.seeds"), (["stage=3"], "stage"), (["lora.rank=4"], "unknown field"),
           (["data.mixture={zzz: 1}"], "unknown kinds"), (["lr"], "key=value"),
           (["data.eval_kinds=[]"], "eval_kinds is invalid: name at least one"),  # trained with nothing to ask
           (["model_overrides={a: 1} lr=2"], "not valid YAML"),
           (["seed=-1"], "seed is invalid"), (["seed=4294967296"], "seed is invalid"),  # numpy's tracebacks before
           (["data.seeds=[-1, 2, 3]"], "data.seeds is invalid: each from 0")]
    for over, words in bad:
        with pytest.raises(TrainConfigError, match=words):
            TrainConfig.load("tiny-sft", over)
    with pytest.raises(TrainConfigError, match="tiny-sft"):
        TrainConfig.load("no-such-recipe")


@pytest.mark.parametrize("over, words", [
    ("precision=fp8", "Lightning refused precision='fp8'.*Allowed precision values"),
    ("strategy=foo", "Lightning refused .*strategy='foo'"),
    ("lora.targets=[nope]", r"lora.targets \['nope'\] name no layer.*q_proj"),
    ("out={file}/run", "out: cannot create the folder"),
])
def test_what_lightning_peft_or_the_disk_refuse_is_one_config_error(tmp_path, over, words):
    """These passed the config's own checks and ended in Lightning's, PEFT's or pathlib's traceback."""
    from chronus_lab.errors import ConfigError
    from chronus_lab.train.run import prepare

    (tmp_path / "file").write_text("a file, not a folder")
    cfg = TrainConfig.load("tiny-sft", [f"out={tmp_path / 'ok'}", over.format(file=tmp_path / "file")])
    with pytest.raises(ConfigError, match=words) as info:
        prepare(cfg, quiet=True)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("text, words", [
    ("lr: [1, 2\nseed: 0\n", "line 2, column 5: expected ',' or ']'"),  # an unclosed list, found on the next line
    ("\tlr: 1\n", "line 1, column 1: found character '\\\\t'"),
    ("", "sets nothing"), ("# only a comment\n", "sets nothing"),  # would otherwise train the defaults
    ("- lr: 1\n", "a mapping of fields, not list")])
def test_a_broken_config_file_is_one_line_that_says_where(tmp_path, text, words):
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    with pytest.raises(TrainConfigError, match=words) as info:
        TrainConfig.load(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# --- data --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def module():
    torch.manual_seed(0)
    return build_module(TrainConfig.load("tiny-sft"))


def test_splits_are_disjoint_deterministic_and_follow_the_mixture(tmp_path, module):
    from chronus_lab.model.encoders import clip_fingerprint
    from chronus_lab.world import WorldConfig, make_clip

    cfg = small(tmp_path).replace()
    cfg.data.mixture = {"v2t": 1.0, "a2v": 1.0}
    dm = OmniDataModule(cfg, module.model.encoders, module.model.answer_format)
    dm.setup(None)
    again = OmniDataModule(cfg, module.model.encoders, module.model.answer_format)
    again.setup("fit")
    assert [t.to_dict() for _, t in dm.splits["train"].tasks] == [t.to_dict() for _, t in again.splits["train"].tasks]
    assert {t.kind for _, t in dm.splits["train"].tasks} == {"v2t", "a2v"}
    unencoded = OmniDataModule(cfg, module.model.encoders, module.model.answer_format)  # chance rows' path
    assert [t.to_dict() for t in unencoded.train_tasks()] == [t.to_dict() for _, t in dm.splits["train"].tasks]
    assert not unencoded.splits  # nothing was encoded for them
    assert {t.kind for _, t in dm.splits["test"].tasks} == set(cfg.data.eval_kinds)
    prints = {s: {clip_fingerprint(make_clip(WorldConfig.tiny(), seed, i)) for i in range(3)}
              for s, seed in zip(("train", "val", "test"), cfg.data.seeds)}
    assert not (prints["train"] & prints["val"] or prints["train"] & prints["test"] or prints["val"] & prints["test"])
    batch = next(iter(dm.train_dataloader()))
    assert batch["vision"].shape[:2] == (4, 16) and batch["boxes"].shape == (4, 16, 4)


def test_a_batch_moves_its_tensors_and_leaves_its_lists_as_they_are(tmp_path, module):
    """``OmniModule.transfer_batch_to_device`` (what Lightning calls before each step): the meta device
    stands in for a GPU — every tensor lands there, every other entry is the very object it was."""
    dm = OmniDataModule(small(tmp_path), module.model.encoders, module.model.answer_format)
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    moved = module.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert moved.keys() == batch.keys()
    tensors = {k for k, v in batch.items() if isinstance(v, torch.Tensor)}
    assert tensors >= {"vision", "audio", "boxes"}
    assert all(moved[k].device.type == "meta" and moved[k].shape == batch[k].shape for k in tensors)
    assert all(moved[k] is batch[k] for k in batch.keys() - tensors)


def test_implicit_cases_weigh_the_hard_questions_and_leave_the_other_tasks_alone():
    """``data.implicit_cases``: the implicit training questions whose case (read by ``eval/errors.py``) is
    weighted come more often; every other task is the one drawn without weights; an unknown case is refused."""
    from collections import Counter

    from chronus_lab.eval.errors import task_case
    from chronus_lab.model.timestamps import TokenTime
    from chronus_lab.train.data import training_tasks
    from chronus_lab.world import WorldConfig, make_clip

    clips = [make_clip(WorldConfig.tiny(), 1000, i) for i in range(150)]
    spec = TrainConfig.load("tiny-grounding").data
    plain = training_tasks(clips, spec, 0, TokenTime())
    spec.implicit_cases = {"covering": 8.0}
    weighted = training_tasks(clips, spec, 0, TokenTime())
    assert [(ci, t.kind) for ci, t in plain] == [(ci, t.kind) for ci, t in weighted]
    assert all(a == b for (_, a), (_, b) in zip(plain, weighted) if a.kind not in ("a2v", "v2a"))

    def covering(tasks) -> float:
        cases = Counter(task_case(t, clips[ci]) for ci, t in tasks if t.kind in ("a2v", "v2a"))
        return cases["covering"] / sum(cases.values())

    assert covering(weighted) > 1.5 * covering(plain) > 0
    with pytest.raises(TrainConfigError, match="implicit_cases"):
        TrainConfig.load("tiny-grounding", ["data.implicit_cases={hard: 2}"])


def test_epoch_sampler_orders_by_seed_and_epoch_and_runs_a_curriculum():
    s = EpochSampler(10, seed=1, early=[0, 1, 2], early_epochs=1)
    first = list(s)
    assert len(first) == 10 and set(first) <= {0, 1, 2}
    s.set_epoch(1)
    e1 = list(s)
    assert sorted(e1) == list(range(10))
    s.set_epoch(2)
    assert list(s) != e1 and sorted(s) == list(range(10))
    s.set_epoch(1)
    assert list(s) == e1  # same (seed, epoch) → same order: what makes resume exact


def test_rank_shards_of_the_sampler_make_the_one_process_batches():
    """Rank r of W takes order[r::W]: step i of W ranks with batch B covers the same examples as step
    i of one process with batch W·B (checked by brute force, with a size that needs padding)."""
    B, W, n = 3, 2, 25
    for epoch in (0, 3):
        one = EpochSampler(n, seed=5)
        one.set_epoch(epoch)
        order = list(one)
        shards = []
        for r in range(W):
            s = EpochSampler(n, seed=5, rank=r, world=W)
            s.set_epoch(epoch)
            shards.append(list(s))
        assert [len(x) for x in shards] == [13, 13]
        for i in range(n // (W * B)):
            ranks = sorted(x for shard in shards for x in shard[i * B:(i + 1) * B])
            assert ranks == sorted(order[i * W * B:(i + 1) * W * B])


def test_grouping_by_length_keeps_the_epoch_and_cuts_the_padding():
    """With lengths, every step's W·B examples have similar lengths (padding measured against random order),
    the epoch is still a permutation that changes with the epoch, and rank shards still make the one-process
    steps."""
    B, W, n = 4, 2, 400
    lengths = torch.randint(8, 33, (n,), generator=torch.Generator().manual_seed(3)).tolist()

    def padding(order):  # padded positions / real positions over the full steps
        steps = [order[i:i + W * B] for i in range(0, n - n % (W * B), W * B)]
        return sum(max(lengths[i] for i in s) * len(s) - sum(lengths[i] for i in s) for s in steps) / sum(lengths)

    plain, grouped = EpochSampler(n, seed=5), EpochSampler(n, seed=5, lengths=lengths, batch=W * B)  # one process
    assert padding(list(grouped)) < 0.05 < 0.3 < padding(list(plain))
    assert sorted(grouped) == list(range(n))
    first = list(grouped)
    grouped.set_epoch(1)
    assert list(grouped) != first and sorted(grouped) == list(range(n))
    shards = []
    for r in range(W):
        s = EpochSampler(n, seed=5, rank=r, world=W, lengths=lengths, batch=B)
        s.set_epoch(1)
        shards.append(list(s))
    order = list(grouped)
    for i in range(n // (W * B)):
        assert sorted(x for shard in shards for x in shard[i * B:(i + 1) * B]) == sorted(order[i * W * B:(i + 1) * W * B])


def test_the_data_module_groups_batches_by_clip_length(tmp_path, module):
    """On clips of 4-16 s, grouped batches are padded to fewer slices than the same tasks in random order."""
    widths = {}
    for grouped in (False, True):
        cfg = small(tmp_path)
        cfg.data.world, cfg.data.n_train, cfg.data.group_by_length = "4-16s", 24, grouped
        dm = OmniDataModule(cfg, module.model.encoders, module.model.answer_format)
        dm.setup("fit")
        widths[grouped] = [b["vision"].shape[1] for b in dm.train_dataloader()]
    lengths = [len(dm.splits["train"].parts[ci]) for ci, _ in dm.splits["train"].tasks]
    assert max(lengths) - min(lengths) >= 8  # the clips do vary
    assert len(widths[True]) == len(widths[False]) and sum(widths[True]) < 0.85 * sum(widths[False])


def test_time_offsets_move_every_time_the_model_reads_and_nothing_else(tmp_path, module):
    """data.time_offset: a training row's slice times, question times and answer times all move by one offset on
    the time grid (read back by the parser), its clip end stays inside the vocabulary, targets stay the clip's own;
    val and test are read from 0 s."""
    cfg = small(tmp_path)
    cfg.data.world, cfg.data.n_train, cfg.data.tasks_per_clip, cfg.data.time_offset = "4-16s", 12, 4, 12.0
    cfg.data.mixture = {"v2t": 1.0, "t2v": 1.0, "a2v": 1.0}
    fmt = module.model.answer_format
    dm = OmniDataModule(cfg, module.model.encoders, fmt)
    dm.setup(None)
    train = dm.splits["train"]
    last = (fmt.max_tokens - 1) * fmt.quantum
    moved = set()
    for i, (ci, plain) in enumerate(train.tasks):
        row, off = train[i], train.offsets[i]
        moved.add(off)
        assert off % fmt.quantum == 0 and 0 <= off <= 12.0 and train.clips[ci].duration + off <= last
        assert torch.allclose(torch.as_tensor(row["times"]), torch.as_tensor(train.features[ci]["times"]) + off)
        for text in ("question", "answer"):
            assert fmt.parse_times(getattr(row["task"], text)) == [t + off for t in fmt.parse_times(getattr(plain, text))]
        assert row["task"].target == plain.target
    assert len(moved) > 5 and max(moved) > 8  # offsets vary
    assert any(fmt.parse_times(train[i]["task"].answer) and max(fmt.parse_times(train[i]["task"].answer)) > 16
               for i in range(len(train)))  # times past the longest clip are written
    assert dm.splits["val"].offsets is None and dm.splits["test"].offsets is None


def test_curriculum_epochs_train_on_single_hop_only(tmp_path, module):
    cfg = small(tmp_path)
    cfg.data.curriculum_epochs = 1
    dm = OmniDataModule(cfg, module.model.encoders, module.model.answer_format)
    dm.setup("fit")
    loader = dm.train_dataloader()
    kinds = {t.kind for b in loader for t in b["tasks"]}
    assert kinds <= set(SINGLE_HOP)
    loader.sampler.set_epoch(1)
    assert {t.kind for b in loader for t in b["tasks"]} - set(SINGLE_HOP)


# --- stages ------------------------------------------------------------------------------------
def _batch(tmp_path, m):
    dm = OmniDataModule(small(tmp_path), m.model.encoders, m.model.answer_format)
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


def test_stage1_trains_projectors_and_avace_only_and_sums_three_losses(tmp_path):
    torch.manual_seed(0)
    m = AlignModule(small(tmp_path, stage=1))
    assert not any(p.requires_grad for p in m.model.llm.parameters())
    assert not any(p.requires_grad for p in m.model.encoders.parameters())
    parts = m.losses(_batch(tmp_path, m))
    assert all(torch.isfinite(v) for v in parts.values())
    assert parts["ot"] > 0 and parts["avace"] > 0
    v = {k: float(t.detach()) for k, t in parts.items()}
    assert v["loss"] == pytest.approx(v["lm"] + 0.01 * v["ot"] + 0.2 * v["avace"], rel=1e-5)
    parts["loss"].backward()
    for name in ("vision_proj", "audio_proj"):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(m.model, name).parameters())
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.avace_attn.parameters())


def test_stage2_lora_trains_adapters_and_projectors_full_trains_everything(tmp_path):
    torch.manual_seed(0)
    lora = InstructModule(small(tmp_path))
    names = [n for n, p in lora.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n or "trainable_tokens_delta" in n
                         or "_proj." in n and n.startswith(("model.vision_proj", "model.audio_proj")) for n in names)
    a = next(p for n, p in lora.named_parameters() if "lora_A" in n)
    assert a.shape[0] == 16  # r from the config
    full = InstructModule(small(tmp_path, finetune="full"))
    assert all(p.requires_grad for p in full.model.llm.parameters())
    # LoRA adds r × (d_in + d_out) per adapted matrix: 4 targets × 4 layers × 16 × (128 + 128); the 66
    # added tokens (<vision>, <audio>, <t_0> … <t_63>) one row of 128 each, shared with the tied head
    in_llm = sum(p.numel() for p in lora.model.llm.parameters() if p.requires_grad)
    assert in_llm == 4 * 4 * 16 * (128 + 128) + 66 * 128
    assert sum(p.numel() for p in full.model.llm.parameters() if p.requires_grad) > 9 * in_llm


def test_lora_trains_exactly_the_added_tokens_rows_of_the_embedding_and_the_tied_head(tmp_path):
    """Without ``trainable_token_indices`` PEFT freezes the whole embedding, and ``<t_k>`` — the answer
    tokens — would keep their stage-0 rows. Read through the model's own embedding and head after a
    few steps: the added rows moved, every other row is bit-identical."""
    from chronus_lab.model.tokenizer import model_token_ids

    torch.manual_seed(0)
    m = InstructModule(small(tmp_path))
    llm = m.model.llm
    vocab = llm.config.vocab_size
    added = model_token_ids(m.model.tokenizer, m.model.cfg.max_time_tokens)
    rows = lambda: llm.get_input_embeddings()(torch.arange(vocab)).detach().clone()  # noqa: E731
    head = lambda: llm.get_output_embeddings()(torch.eye(llm.config.hidden_size)).detach().T.clone()  # noqa: E731
    emb0, head0 = rows(), head()
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-2)
    batch = _batch(tmp_path, m)
    for _ in range(3):
        out = m.model(batch)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    answered = set(out.labels[out.labels >= 0].tolist()) & set(added)  # the <t_k> the answers wrote
    assert answered
    for before, after in ((emb0, rows()), (head0, head())):
        moved = set((after - before).abs().sum(1).nonzero().flatten().tolist())
        assert answered <= moved <= set(added)
    frozen = InstructModule(small(tmp_path, lora=m.cfg.lora.__class__(train_new_tokens=False)))
    assert not any("trainable_tokens" in n for n, p in frozen.named_parameters() if p.requires_grad)


# --- runs ----------------------------------------------------------------------------------------
def _weights(m) -> dict:
    return {k: v.detach().clone() for k, v in m.state_dict().items() if k in m.trainable_keys()}


def test_resume_from_last_ckpt_matches_an_uninterrupted_run(tmp_path):
    """Train 2 epochs straight; separately crash after epoch 1 and rerun: same weights, same val loss."""
    import lightning as L

    straight = fit(prepare(small(tmp_path / "a"), quiet=True))

    class Crash(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                raise RuntimeError("simulated crash")

    first = prepare(small(tmp_path / "b"), quiet=True)
    first.trainer.callbacks.append(Crash())
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(first)
    assert first.last.exists()
    resumed = fit(prepare(small(tmp_path / "b"), quiet=True))
    assert resumed.trainer.current_epoch == straight.trainer.current_epoch == 2
    wa, wb = _weights(straight.module), _weights(resumed.module)
    assert wa.keys() == wb.keys() and all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)
    va, vb = (float(r.trainer.callback_metrics["val/loss"]) for r in (straight, resumed))
    assert va == pytest.approx(vb, abs=1e-6)
    logs = sorted(p.parent.name for p in (tmp_path / "b" / "run" / "logs").rglob("metrics.csv"))
    assert logs == ["version_0", "version_1"]  # the crashed attempt's log is kept


def test_checkpoint_is_slim_and_reloads_and_adapter_loads_with_peft(tmp_path):
    from peft import PeftModel

    from chronus_lab.model.omni import build_llm

    run = fit(prepare(small(tmp_path, max_epochs=1), quiet=True))
    ckpt = torch.load(run.last, map_location="cpu", weights_only=False)
    assert set(ckpt["state_dict"]) == run.module.trainable_keys()
    assert (run.folder / "config.yaml").exists() and (run.folder / "export" / "adapter").is_dir()
    again = load_checkpoint(run.last)
    batch = _batch(tmp_path, again)
    run.module.eval()
    with torch.no_grad():
        ref = run.module.model(batch).logits
        assert torch.allclose(again.model(batch).logits, ref, atol=1e-5)
        # the PEFT adapter on a fresh base LLM, then merged into it, gives the trained LLM's logits
        e = run.module.model.embed(batch)
        base = build_llm(run.module.model.cfg.llm, len(run.module.model.tokenizer))
        peft = PeftModel.from_pretrained(base, run.folder / "export" / "adapter").eval()
        out = peft(inputs_embeds=e["inputs_embeds"], attention_mask=e["attention_mask"]).logits
        assert torch.allclose(out, ref, atol=1e-4)
        merged = peft.merge_and_unload()
        out = merged(inputs_embeds=e["inputs_embeds"], attention_mask=e["attention_mask"]).logits
        assert torch.allclose(out, ref, atol=1e-4)
        # and the one-call loader the notebooks use, with and without merging
        for merge in (False, True):
            assert torch.allclose(load_export(run.folder / "export", merge=merge)(batch).logits, ref, atol=1e-4)
    # a damaged export is one clear error that names the file, not safetensors' or PEFT's traceback
    export = run.folder / "export"
    proj, weights = export / "projectors.safetensors", export / "adapter" / "adapter_model.safetensors"
    for path, damage in ((proj, lambda raw: raw[: len(raw) // 2]), (weights, lambda raw: raw[: len(raw) // 2]),
                         (proj, None)):
        raw = path.read_bytes()
        path.write_bytes(damage(raw)) if damage else path.unlink()
        with pytest.raises(CheckpointError, match=f"{path.name if path == proj else 'adapter'}.*export it again"):
            load_export(export)
        path.write_bytes(raw)
    load_export(export)  # restored: loads again


def test_slice_context_trains_and_travels_with_the_checkpoint_and_the_export(tmp_path):
    """The ``vision_context`` / ``audio_context`` kernels sit in the projectors: they train from zero, and
    ``last.ckpt`` and the export both bring them back (the reloaded models give the trained model's logits)."""
    cfg = small(tmp_path, max_epochs=1)
    context = {"vision_context": 1, "audio_context": 2}
    run = fit(prepare(cfg.replace(model_overrides={**cfg.model_overrides, **context}), quiet=True))
    kernels = {n: p for n, p in run.module.named_parameters() if ".context.conv.weight" in n}
    assert sorted(kernels) == ["model.audio_proj.context.conv.weight", "model.vision_proj.context.conv.weight"]
    assert [kernels[f"model.{m}_proj.context.conv.weight"].shape[-1] for m in ("vision", "audio")] == [3, 5]
    assert all(p.requires_grad and p.abs().sum() > 0 for p in kernels.values())  # moved off its zero start
    batch = _batch(tmp_path, run.module)
    run.module.eval()
    with torch.no_grad():
        ref = run.module.model(batch).logits
        assert torch.allclose(load_checkpoint(run.last).model(batch).logits, ref, atol=1e-5)
        assert torch.allclose(load_export(run.folder / "export")(batch).logits, ref, atol=1e-4)


def test_stage2_starts_from_stage1_projectors(tmp_path):
    """init_from: the stage-1 checkpoint's projectors are stage 2's starting point; the LLM keeps its base."""
    stage1 = fit(prepare(small(tmp_path / "s1", stage=1, max_epochs=1), quiet=True))
    run = prepare(small(tmp_path / "s2", init_from=str(stage1.last)), quiet=True)
    for name in ("vision_proj", "audio_proj"):
        a, b = getattr(stage1.module.model, name).state_dict(), getattr(run.module.model, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    fresh = prepare(small(tmp_path / "s3"), quiet=True)
    assert not torch.equal(fresh.module.model.vision_proj.state_dict()["fc1.weight"],
                           run.module.model.vision_proj.state_dict()["fc1.weight"])


def test_load_checkpoint_rejects_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.ckpt")
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    with pytest.raises(CheckpointError, match="no ChronusLab config"):
        load_checkpoint(tmp_path / "other.ckpt")
    (tmp_path / "broken.ckpt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match="not a readable checkpoint") as err:
        load_checkpoint(tmp_path / "broken.ckpt")
    assert "retrain" in str(err.value) and len(str(err.value)) < 400  # what to do, not torch's five sentences
    (tmp_path / "run").mkdir()
    with pytest.raises(CheckpointError, match="is a folder.*last.ckpt"):
        load_checkpoint(tmp_path / "run")


def test_loading_is_strict_about_keys_and_shapes(tmp_path):
    """A renamed key or another LoRA rank is named in one error — never an untrained model."""
    run = fit(prepare(small(tmp_path / "r16", max_epochs=1), quiet=True))
    ckpt = torch.load(run.last, map_location="cpu", weights_only=False)
    key = next(k for k in ckpt["state_dict"] if "vision_proj" in k)
    ckpt["state_dict"][key.replace("vision_proj", "vision_projector")] = ckpt["state_dict"].pop(key)
    torch.save(ckpt, tmp_path / "renamed.ckpt")
    with pytest.raises(CheckpointError, match="missing: .*vision_proj.*unexpected: .*vision_projector"):
        load_checkpoint(tmp_path / "renamed.ckpt")
    other_rank = small(tmp_path / "r4", init_from=str(run.last))
    other_rank.lora.r = 4
    with pytest.raises(CheckpointError, match="other shapes"):
        prepare(other_rank, quiet=True)


def test_a_rerun_with_another_config_refuses_to_resume(tmp_path):
    cfg = small(tmp_path, max_epochs=1)
    fit(prepare(cfg, quiet=True))
    changed = cfg.replace(lr=1e-4)
    with pytest.raises(ConfigError, match="lr differ.*--fresh"):
        fit(prepare(changed, quiet=True))
    fit(prepare(changed, quiet=True), resume=False)  # --fresh starts over
    longer = changed.replace(max_epochs=2)  # run length may change: it resumes
    assert fit(prepare(longer, quiet=True)).trainer.current_epoch == 2


def test_cli_train_then_eval(tmp_path, capsys):
    from chronus_lab.cli import main

    out = tmp_path / "cli"
    args = ["train", "--config", "tiny-align", "--set", "data.n_train=4", "data.n_val=2", "data.n_test=2",
            "data.tasks_per_clip=2", "data.batch_size=4", "max_epochs=1", "progress_bar=false", f"out={out}"]
    assert main(args) == 0
    ckpt = str(out / "checkpoints" / "last.ckpt")
    assert main(["eval", "--ckpt", ckpt, "--limit", "2", "--errors"]) == 0
    text = capsys.readouterr().out
    assert "trained in" in text and "chance" in text and "implicit (a2v+v2a)" in text
    assert "implicit answers by what else happens" in text and "names an overlapping event" in text
    assert main(["eval", "--ckpt", ckpt, "--limit", "2", "--world", "tiny, 5-6 events"]) == 0
    assert "test split of world 'tiny, 5-6 events'" in capsys.readouterr().out
    assert main(["eval", "--ckpt", ckpt, "--world", "huge"]) == 2  # one message, no traceback
    assert "data.world" in capsys.readouterr().err
    # bench worlds: the trained world first, then each asked-for world once, with its chance
    from chronus_lab.experiments import run

    rows = run("worlds", ckpt=ckpt, worlds=["4-6s", "tiny"], n_test=2, limit_per_kind=1, log=lambda *_: None)
    assert [r["world"] for r in rows] == ["tiny (trained on)", "4-6s"]
    assert all(0 <= r["explicit mIoU"] <= 1 and 0 <= r["explicit chance"] <= 1 and 0 <= r["implicit acc"] <= 1
               for r in rows)
    assert rows[0]["n past"] == rows[1]["n past"] == 0  # 8 s training clips: nothing on 4-6 s or 8 s reaches past
    longer = run("worlds", ckpt=ckpt, worlds=["16s"], n_test=6, limit_per_kind=6, log=lambda *_: None)[1]
    assert longer["n past"] >= 1 and 0 <= longer["explicit past"] <= 1 and 0 <= longer["answers past"] <= 1
    assert main(["bench", "worlds", "--ckpt", ckpt, "--worlds", "4-6s", "nowhere"]) == 2
    said = capsys.readouterr()
    assert "data.world is 'nowhere'" in said.err and "questions" not in said.out  # refused before any world ran
    assert main(["train", "--config", "tiny-sft", "--set", "stage=9"]) == 2


def test_bench_sft_and_lora_ablation_print_their_tables(capsys):
    from chronus_lab.cli import main

    tiny = ["data.n_train=4", "data.n_val=2", "data.n_test=2", "data.tasks_per_clip=2", "data.batch_size=4",
            "max_epochs=1"]
    assert main(["bench", "sft", "--recipe", "tiny-grounding", "--set", *tiny, "--limit", "2"]) == 0
    assert main(["bench", "lora", "--recipe", "tiny-grounding", "--set", *tiny, "--limit", "2"]) == 0
    text = capsys.readouterr().out
    assert "tiny-grounding" in text and "trained in" in text and "explicit (v2t+a2t)" in text
    for row in ("LoRA r=4", "LoRA r=16", "LoRA r=32", "full fine-tuning", "chance"):
        assert row in text


def test_last_ckpt_is_the_end_of_training_even_when_the_monitored_metric_peaks_early(tmp_path, capsys,
                                                                                      monkeypatch):
    """The checkpoint issue: the metric that picks the best checkpoint is at its best in epoch 0
    (arranged: the validation score falls every epoch, as val/loss rose in the recipes). last.ckpt
    must still be the end of epoch 2; the end-of-training table equals, number for number,
    `chronus-lab eval` on last.ckpt and the table of the export folder; a run interrupted after an
    epoch and resumed ends with the weights of the uninterrupted one."""
    import itertools

    import lightning as L

    from chronus_lab.cli import main
    from chronus_lab.eval.harness import evaluate
    from chronus_lab.train import module as module_mod
    from chronus_lab.train.run import evaluate_module

    falling = itertools.count()
    monkeypatch.setattr(module_mod, "selection_score", lambda preds, fmt: 1.0 / (1 + next(falling)))
    cfg = small(tmp_path / "a", max_epochs=3)
    straight = fit(prepare(cfg, quiet=True))
    assert torch.load(straight.best, weights_only=False)["epoch"] == 0  # the arranged early peak
    assert torch.load(straight.last, weights_only=False)["epoch"] == 2

    table = evaluate_module(straight.module, straight.data).table()
    capsys.readouterr()
    assert main(["eval", "--ckpt", str(straight.last)]) == 0
    printed = capsys.readouterr().out
    assert "(epoch 2, step" in printed and table in printed
    exported = load_export(straight.folder / "export")
    train_tasks = [t for _, t in straight.data.splits["train"].tasks]
    assert evaluate(exported, straight.data.splits["test"], train_tasks, exported.answer_format).table() == table

    class Crash(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 2:
                raise RuntimeError("simulated crash")

    first = prepare(small(tmp_path / "b", max_epochs=3), quiet=True)
    first.trainer.callbacks.append(Crash())
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit(first)
    resumed = fit(prepare(small(tmp_path / "b", max_epochs=3), quiet=True))
    wa, wb = _weights(straight.module), _weights(resumed.module)
    assert all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)


def test_numbers_typed_the_usual_way_reach_their_fields():
    spellings = {"lr=5e-3": ("lr", 0.005), "lr=1E-4": ("lr", 1e-4), "lora.dropout=.5": ("lora.dropout", 0.5),
                 "lora.dropout=1e-1": ("lora.dropout", 0.1), "progress_bar=true": ("progress_bar", True),
                 "data.seeds=[1, 2, 3]": ("data.seeds", [1, 2, 3]), "max_epochs=4.0": ("max_epochs", 4),
                 "devices=2": ("devices", 2), "devices=auto": ("devices", "auto")}
    for item, (field, want) in spellings.items():
        cfg = TrainConfig.load("tiny-sft", [item])
        got = cfg
        for part in field.split("."):
            got = getattr(got, part)
        assert got == want and type(got) is type(want), (item, got)
    for item, field in (("lr=fast", "lr"), ("max_epochs=2.5", "max_epochs"), ("data.seeds=7", "data.seeds"),
                        ("progress_bar=maybe", "progress_bar"), ("model_overrides={vision_tokens: many}", "vision_tokens")):
        with pytest.raises(ConfigError, match=field):
            TrainConfig.load("tiny-sft", [item])
