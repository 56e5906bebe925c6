"""The ``chronus-lab`` command line: one subcommand per job, the same functions the notebooks call.

    chronus-lab world --n 1000 --seed 0 --out data/world     # make a dataset (seconds)
    chronus-lab check data/world                              # validate every clip of a dataset
    chronus-lab base --out assets/tiny                        # stage-0 tiny base models (minutes)
    chronus-lab bench timestamps                              # notebook 04's experiment, full length
    chronus-lab bench time [--seeds 3] [--n-train N]          # uniform slices: does the time input tell when?
    chronus-lab bench cache --n 1000                          # feature-cache time for 1,000 clips
    chronus-lab bench ot [--threads 2]                        # batched Sinkhorn vs a loop of POT calls
    chronus-lab bench ot-align                                # notebook 05's experiment: LM loss ± AVOpT
    chronus-lab bench avace                                   # notebook 06's experiment: attention ± AVACE
    chronus-lab train --config tiny-sft [--set lora.r=4 …]    # Lightning SFT; a rerun of the same config resumes
    chronus-lab eval --ckpt runs/tiny-sft/checkpoints/last.ckpt   # the table: tasks × metrics + chance rows
    chronus-lab rl --config tiny-grpo [--set beta=0 …]         # PPO / GRPO on temporal rewards from SFT
    chronus-lab bench sft [--recipe tiny-grounding]           # timed tiny SFT + its evaluation table
    chronus-lab bench lora [--recipe tiny-grounding]          # LoRA r 4 / 16 / 32 vs full fine-tuning
    chronus-lab bench probe                                   # linear probes: what the frozen encoders can tell
    chronus-lab ship --ckpt runs/tiny-grounding/checkpoints/last.ckpt --name grounding   # into assets/tiny
    chronus-lab explore [--ckpt …]                            # the explorer notebook in JupyterLab
    chronus-lab bench worlds [--ckpt C] [--worlds W …]        # a checkpoint on other clip lengths / more events
    chronus-lab bench explorer                                # ms per slider move in the explorer
    chronus-lab features --config tiny-sft --set data.cache=data/features   # encode once; reruns skip what is there
    chronus-lab plan --config full-sft --devices 4 --gpu-mem 80   # GPU memory per device, planned on the CPU
    chronus-lab info                                          # versions, device, threads

Errors a user can fix (``errors.ChronusError``: a bad dataset, a bad option, weights not on this
machine, a checkpoint that does not fit) print one line and exit with status 2; any other exception
is a bug and keeps its traceback. ``bench`` finds experiments by name in ``experiments.REGISTRY``.
The top layer: it may import every other.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path


def _world(args) -> None:
    from .errors import ConfigError
    from .world import WorldConfig, generate_world, load_world

    if len(args.duration) > 2:
        raise ConfigError(f"--duration takes one length or MIN MAX (got {len(args.duration)} numbers)")
    cfg = WorldConfig.lengths(args.duration[0], args.duration[-1])  # events fit the shortest clip, as data.world
    t0 = time.perf_counter()
    out = generate_world(args.out, n=args.n, seed=args.seed, cfg=cfg, chunk_size=args.chunk_size,
                         workers=args.workers, overwrite=args.overwrite)
    dt = time.perf_counter() - t0
    w = load_world(out)
    size = sum(p.stat().st_size for p in out.iterdir()) / 2**20
    print(f"wrote {len(w)} clips (seed {args.seed}) to {out} in {dt:.1f} s "
          f"({len(w) / dt:.0f} clips/s, {args.workers} worker(s)), {size:.0f} MiB")


def _check(args) -> None:
    from .world import load_world

    w = load_world(args.path)
    for i in range(len(w)):
        w[i]  # reads and checks the arrays against the annotation
    n_events = sum(len(c.events) for c in w.clips)
    print(f"{args.path}: {len(w)} clips, {n_events} events, seed {w.seed}: OK")


def _base(args) -> None:
    from .setup import setup
    from .train.base import BaseRecipe, make_base_models

    setup(seed=0, threads=args.threads, quiet=True)
    make_base_models(args.out, BaseRecipe.quick() if args.quick else BaseRecipe())


def _bench(args) -> None:
    from .eval.metrics import format_table
    from .experiments import run
    from .setup import setup

    setup(seed=0, threads=args.threads, quiet=True)
    rows = run(args.what, recipe=args.recipe, overrides=args.set, limit_per_kind=args.limit, n=args.n,
               steps=args.steps, n_train=args.n_train, n_test=args.n_test, ckpt=args.ckpt, seeds=args.seeds,
               ablations=args.ablations or None, worlds=args.worlds)
    print(format_table(rows))


def _train(args) -> None:
    from .setup import setup
    from .train.config import TrainConfig
    from .train.run import evaluate_module, train

    cfg = TrainConfig.load(args.config, args.set)
    setup(seed=cfg.seed, threads=args.threads, quiet=True)
    t0 = time.perf_counter()
    run = train(cfg, resume=not args.fresh)
    if not run.trainer.is_global_zero:  # under DDP every process runs this function: one report, from rank 0
        return
    metrics = {k: round(float(v), 4) for k, v in run.trainer.callback_metrics.items() if k.endswith("loss")}
    print(f"trained in {time.perf_counter() - t0:.0f} s: {metrics}; run folder {run.folder}")
    if args.eval:
        print(evaluate_module(run.module, run.data).table())


def _eval(args) -> None:
    from .setup import setup
    from .train.module import load_checkpoint
    from .train.run import evaluate_module

    setup(seed=0, threads=args.threads, quiet=True)
    module = load_checkpoint(args.ckpt)
    at = module.loaded_from
    t0 = time.perf_counter()
    ev = evaluate_module(module, split=args.split, limit_per_kind=args.limit, world=args.world)
    world = f" of world {args.world!r}" if args.world else ""
    print(f"{args.ckpt} (epoch {at['epoch']}, step {at['global_step']}): {args.split} split{world}, "
          f"{len(ev.predictions)} questions, {time.perf_counter() - t0:.0f} s")
    print(ev.table())
    if args.errors:
        from .eval.errors import implicit_anatomy
        from .eval.metrics import format_table

        rows = implicit_anatomy(ev.predictions, ev.clips)
        print("\nimplicit answers by what else happens during the asked event (chronus_lab/eval/errors.py):")
        print(format_table([{**r, "acc": f"{r['acc']:.3f}"} for r in rows]))


def _rl(args) -> None:
    from .rl.run import RLConfig, train_rl
    from .setup import setup
    from .train.run import evaluate_module

    cfg = RLConfig.load(args.config, args.set)
    setup(seed=cfg.seed, threads=args.threads, quiet=True)
    t0 = time.perf_counter()
    run = train_rl(cfg, resume=not args.fresh)
    print(f"{cfg.algo}: {cfg.iterations} iterations in {time.perf_counter() - t0:.0f} s; "
          f"policy in {run.folder / 'policy.ckpt'}, log in {run.folder / 'log.csv'}")
    if args.eval:
        print(evaluate_module(run.module, limit_per_kind=args.limit).table())


def _ship(args) -> None:
    import math
    import os

    from .setup import setup
    from .train.module import load_checkpoint
    from .train.run import evaluate_module
    from .train.ship import card_path, ckpt_path, ship

    setup(seed=0, threads=args.threads, quiet=True)
    ckpt_path(args.name)  # a bad name is refused before the evaluation, not after it
    ev = evaluate_module(load_checkpoint(args.ckpt))  # the whole test split: the card's table is the README's
    print(ev.table())
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in ev.rows]
    card = ship(args.ckpt, args.name, rows, f"chronus-lab eval --ckpt {os.path.relpath(ckpt_path(args.name))}")
    print(f"shipped {ckpt_path(args.name)} ({card['trainable_parameters']:,} trainable weights, config "
          f"{card['recipe_config_hash']}) and its card {card_path(args.name)}")


EXPLORER_NOTEBOOK = "09_explorer.ipynb"


def _explore(args) -> None:
    import os
    import subprocess

    from .errors import ConfigError
    from .train.module import read_checkpoint

    env = dict(os.environ)
    if args.ckpt:
        read_checkpoint(args.ckpt)  # a wrong path or file: one line now, not a traceback in the notebook
        env["CHRONUS_CKPT"] = str(Path(args.ckpt).resolve())
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / EXPLORER_NOTEBOOK
    if not notebook.is_file():
        raise ConfigError(f"the explorer notebook is not at {notebook} (installed without the repository?). "
                          "In Python: `from chronus_lab.viz.explorer import Explorer; "
                          "Explorer.from_checkpoint(path).show()`")
    cmd = [sys.executable, "-m", "jupyter", "lab", str(notebook), f"--port={args.port}"]
    cmd += ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    cmd += ["--no-browser"] if args.no_browser else []
    print("opening", notebook.name, "with", env.get("CHRONUS_CKPT", "the shipped model"))
    subprocess.run(cmd, env=env, check=False)


def _features(args) -> None:
    from .errors import ConfigError
    from .setup import pick_device, setup
    from .train.config import TrainConfig
    from .train.data import OmniDataModule
    from .train.module import omni_config

    cfg = TrainConfig.load(args.config, args.set)
    if not cfg.data.cache:
        raise ConfigError(f"{args.config} has no data.cache folder: add --set data.cache=data/features")
    if not 0 <= args.rank < args.world_size:
        raise ConfigError(f"--rank must be in 0 … {args.world_size - 1} (got {args.rank})")
    setup(seed=0, threads=args.threads, quiet=True)
    from .model.encoders import Encoders

    encoders = Encoders(omni_config(cfg)).to(pick_device())
    data = OmniDataModule(cfg, encoders, None)
    for split in args.splits:
        t0 = time.perf_counter()
        _, clips, feats = data.encode_split(split, shard=(args.rank, args.world_size))
        dt = time.perf_counter() - t0
        print(f"{split}: {len(clips)} clips (shard {args.rank}/{args.world_size}) in {cfg.data.cache} "
              f"in {dt:.1f} s ({1000 * dt / max(len(clips), 1):.0f} ms per clip)")


def _plan(args) -> None:
    from .eval.metrics import format_table
    from .train.config import TrainConfig
    from .train.plan import count, describe, plan

    cfg = TrainConfig.load(args.config, args.set)
    counts = count(cfg)
    strategy = args.strategy or (cfg.strategy if cfg.strategy in ("ddp", "fsdp") else "ddp")
    print(describe(cfg, counts, args.devices, strategy, args.gpu_mem))
    rows = plan(cfg, args.devices, args.gpu_mem, strategy, counts=counts)
    print(format_table([{k: (f"{v:.2f}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows]))
    print("GiB per device; activations assume flash attention (no s × s matrix); "
          "+1.5 GiB allowance for the CUDA context and allocator")


def _info(args) -> None:
    from .setup import describe_environment

    print(describe_environment())


def _count(text: str) -> int:
    """A count on the command line (``--threads``, ``--limit``, ``--seeds``, …): a whole number from 1.

    argparse prints the error in one line naming the option; 0 or a negative number would otherwise mean
    "no limit" (``--limit 0``), one short of every question (``--limit -1``) or a traceback further down."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n}: give at least 1")
    return n


def _amount(text: str) -> float:
    """A positive, finite amount on the command line (``--gpu-mem``); ``nan`` compared false with every limit."""
    try:
        x = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(x) and x > 0):
        raise argparse.ArgumentTypeError(f"{text}: give a positive number")
    return x


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="chronus-lab", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    w = sub.add_parser("world", help="generate a synthetic audio-visual dataset")
    w.add_argument("--n", type=int, default=1000, help="number of clips")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--out", required=True, help="dataset folder (written atomically)")
    w.add_argument("--duration", type=float, nargs="+", default=[8.0],
                   help="clip length in s, or MIN MAX for varying lengths")
    w.add_argument("--chunk-size", type=int, default=250)
    w.add_argument("--workers", type=int, default=2, help="processes (clips are independent)")
    w.add_argument("--overwrite", action="store_true", help="replace an existing dataset")
    w.set_defaults(func=_world)

    c = sub.add_parser("check", help="validate a dataset folder")
    c.add_argument("path")
    c.set_defaults(func=_check)

    b = sub.add_parser("base", help="train the tiny base models (stage 0) into a folder")
    b.add_argument("--out", default="assets/tiny")
    b.add_argument("--quick", action="store_true", help="a fraction of the steps (tests)")
    b.add_argument("--threads", type=_count, default=1)
    b.set_defaults(func=_base)

    from .experiments import REGISTRY

    be = sub.add_parser("bench", help="benchmarks and experiments that print their numbers",
                        description="\n".join(f"{k:>10}: {v[1]}" for k, v in REGISTRY.items()),
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    be.add_argument("what", choices=list(REGISTRY), help="the experiment (listed above)")
    be.add_argument("--recipe", default=None, help="the training recipe (sft, lora; default tiny-sft)")
    be.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="recipe overrides (sft, lora)")
    be.add_argument("--limit", type=_count, default=None, help="questions per task kind in the evaluation (sft, lora)")
    be.add_argument("--n", type=_count, default=None, help="clips (cache; default 1000)")
    be.add_argument("--steps", type=_count, default=None, help="training steps (experiments; each has its default)")
    be.add_argument("--n-train", type=_count, default=None, help="training clips (experiments and time; each has its default)")
    be.add_argument("--n-test", type=_count, default=None, help="test clips (experiments; each has its default)")
    be.add_argument("--ckpt", default=None, help="the checkpoint (rl: the SFT start, default the shipped model; explorer)")
    be.add_argument("--ablations", action="store_true", help="rl: also GRPO − order reward, − cross-modal reward, β = 0")
    be.add_argument("--worlds", nargs="+", default=None, metavar="WORLD",
                    help="worlds: test worlds after the trained one (default tiny, 4-8s, 12-16s, 16-24s, 'tiny, 5-6 events')")
    be.add_argument("--seeds", type=_count, default=None, help="runs per variant (rl, time; default 3)")
    be.add_argument("--threads", type=_count, default=1)
    be.set_defaults(func=_bench)

    t = sub.add_parser("train", help="train with Lightning from a YAML config (resumes from last.ckpt)")
    t.add_argument("--config", default="tiny-sft", help="a packaged recipe (tiny-sft, tiny-align, full-sft) or a path")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, e.g. lora.r=4 max_epochs=2")
    t.add_argument("--fresh", action="store_true", help="start over: the run folder's old checkpoints are removed")
    t.add_argument("--eval", action="store_true", help="print the test-split table after training")
    t.add_argument("--threads", type=_count, default=None)
    t.set_defaults(func=_train)

    r = sub.add_parser("rl", help="RL (PPO or GRPO) on temporal rewards from an SFT checkpoint")
    r.add_argument("--config", default="tiny-grpo", help="a packaged recipe (tiny-grpo, tiny-ppo, full-grpo) or a path")
    r.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides, e.g. iterations=20 beta=0")
    r.add_argument("--fresh", action="store_true", help="ignore a saved RL state in the run folder")
    r.add_argument("--eval", action="store_true", help="print the test-split table after RL")
    r.add_argument("--limit", type=_count, default=None, help="questions per task kind in the evaluation")
    r.add_argument("--threads", type=_count, default=None)
    r.set_defaults(func=_rl)

    e = sub.add_parser("eval", help="evaluate a checkpoint: tasks × metrics with chance rows")
    e.add_argument("--ckpt", required=True)
    e.add_argument("--split", choices=["val", "test"], default="test")
    e.add_argument("--limit", type=_count, default=None, help="at most this many questions per task kind")
    e.add_argument("--world", default=None, help="test clips from another world than training's, e.g. '12-16s' "
                   "(longer clips) or 'tiny, 5-6 events' (more events); chance still from the training answers")
    e.add_argument("--errors", action="store_true", help="also sort the implicit (a2v / v2a) answers by what "
                   "else happens during the asked event, and the wrong ones by what they name")
    e.add_argument("--threads", type=_count, default=None)
    e.set_defaults(func=_eval)

    sh = sub.add_parser("ship", help="evaluate a checkpoint and ship it (weights + card) in assets/tiny")
    sh.add_argument("--ckpt", required=True)
    sh.add_argument("--name", default="grounding", help="file name in assets/tiny (name.ckpt, name.json)")
    sh.add_argument("--threads", type=_count, default=None)
    sh.set_defaults(func=_ship)

    x = sub.add_parser("explore", help="open the explorer notebook in JupyterLab (a checkpoint, or the shipped model)")
    x.add_argument("--ckpt", default=None, help="a checkpoint written by train or rl (default: the shipped model)")
    x.add_argument("--port", type=int, default=8888)
    x.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    x.set_defaults(func=_explore)

    f = sub.add_parser("features", help="encode a recipe's clips once into its data.cache (resumable, sharded)")
    f.add_argument("--config", default="tiny-sft")
    f.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="e.g. data.cache=data/features")
    f.add_argument("--splits", nargs="+", choices=["train", "val", "test"], default=["train", "val", "test"])
    f.add_argument("--rank", type=int, default=0, help="this process's shard (every world-size-th clip)")
    f.add_argument("--world-size", type=_count, default=1)
    f.add_argument("--threads", type=_count, default=None)
    f.set_defaults(func=_features)

    pl = sub.add_parser("plan", help="GPU memory per device for a recipe, counted on the meta device (no weights)")
    pl.add_argument("--config", default="full-sft")
    pl.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="recipe overrides, e.g. data.batch_size=4")
    pl.add_argument("--devices", type=_count, default=1)
    pl.add_argument("--strategy", choices=["ddp", "fsdp"], default=None, help="default: the recipe's (ddp if auto)")
    pl.add_argument("--gpu-mem", type=_amount, default=80.0, help="GiB per device (H100: 80)")
    pl.set_defaults(func=_plan)

    i = sub.add_parser("info", help="versions, device and threads")
    i.set_defaults(func=_info)
    return p


def main(argv=None) -> int:
    from .errors import ChronusError

    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ChronusError as e:  # a problem the user can fix: one line. Anything else is a bug: traceback.
        print(f"chronus-lab {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"chronus-lab {args.command}: interrupted (Ctrl-C). {_after_interrupt(args)}", file=sys.stderr)
        return 130
    return 0


def _after_interrupt(args) -> str:
    """What an interrupted command kept, and how to go on."""
    if args.command == "world":
        return f"Nothing was written to {args.out}; a dataset already there is untouched."
    if args.command in ("train", "rl"):
        if args.command == "rl":
            from .rl.run import RLConfig

            return (f"{RLConfig.load(args.config, args.set).out}/rl_state.pt holds the last saved iteration; "
                    "run the same command again to resume from it.")
        from .train.config import TrainConfig

        out = TrainConfig.load(args.config, args.set).out
        return (f"{out}/checkpoints/last.ckpt holds the last finished epoch (if one finished); "
                f"run the same command again to resume from it.")
    return "Nothing was changed; run it again."


if __name__ == "__main__":
    sys.exit(main())
