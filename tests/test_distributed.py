"""DDP through Lightning on CPU (gloo): two processes end where one process with their global batch ends.

The run goes through the CLI, as a user starts it: Lightning's ``ddp`` strategy re-launches the same
command for rank 1. Each rank takes every second example of the epoch's permutation (``EpochSampler``),
gradients are averaged by DDP, and the v2t answers all have the same number of tokens — so the mean of
the two ranks' per-token losses is the one-process loss, and the weights agree to float32 rounding.
Tolerance: 1e-4 absolute after 4 AdamW steps (measured: ~6e-6, weights of size ~0.1–0.2). With
Lightning's own distributed sampler, which reshuffles the epoch's order per rank, the same test
measured 1.1e-2: the ranks' batches were other examples.
"""
import subprocess
import sys
from pathlib import Path

from safetensors.torch import load_file

COMMON = ["data.n_train=8", "data.n_val=2", "data.n_test=2", "data.tasks_per_clip=2", "data.mixture={v2t: 1}",
          "data.eval_kinds=[v2t]", "max_epochs=2", "warmup_steps=1", "progress_bar=false", "accelerator=cpu",
          "val_every_epochs=100"]


def _train(out: Path, *extra: str) -> tuple[Path, str]:
    cli = Path(sys.executable).with_name("chronus-lab")
    proc = subprocess.run([str(cli), "train", "--config", "tiny-sft", "--set", *COMMON, *extra, f"out={out}"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out / "export", proc.stdout


def test_two_ddp_processes_end_with_the_weights_of_one_process_on_the_same_global_batch(tmp_path):
    one, _ = _train(tmp_path / "one", "data.batch_size=8", "devices=1")
    two, printed = _train(tmp_path / "two", "data.batch_size=4", "devices=2", "strategy=ddp")
    assert printed.count("trained in") == 1, printed  # rank 1 runs the same command: only rank 0 reports
    for name in ("projectors.safetensors", "adapter/adapter_model.safetensors"):
        a, b = load_file(one / name), load_file(two / name)
        assert a.keys() == b.keys() and len(a) > 0
        for key in a:
            assert (a[key] - b[key]).abs().max() <= 1e-4, key
    lora_b = [v for k, v in load_file(one / "adapter/adapter_model.safetensors").items() if "lora_B" in k]
    assert lora_b and max(v.abs().max() for v in lora_b) > 1e-3  # B starts at zero: the adapters did train
