"""Ctrl-C ends a command with one line (what was kept, how to go on), never a traceback, and loses nothing."""
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# A shell that starts a job in the background makes it ignore SIGINT, and Python then installs no
# KeyboardInterrupt handler; restore the handler a terminal gives, so the test works however it is run.
CLI = [sys.executable, "-c", "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                             "from chronus_lab.cli import main; sys.exit(main())"]


def _interrupt_when(cmd, ready, timeout=120.0, settle=0.0):
    """Start ``cmd``, wait until ``ready()`` is true (and ``settle`` s more), press Ctrl-C, return (code, stderr)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    t0 = time.time()
    while not ready():
        if proc.poll() is not None or time.time() - t0 > timeout:
            proc.kill()
            out, err = proc.communicate()
            pytest.fail(f"never became ready (exit {proc.returncode}): {err[-2000:]}")
        time.sleep(0.05)
    time.sleep(settle)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def _digest(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_ctrl_c_during_world_overwrite_keeps_the_old_dataset(tmp_path):
    from chronus_lab.world import generate_world

    out = generate_world(tmp_path / "w", n=3, seed=1)
    before = _digest(out)
    started = lambda: any(p.name.startswith(".w.tmp") for p in tmp_path.iterdir())  # noqa: E731
    code, err = _interrupt_when([*CLI, "world", "--n", "3000", "--seed", "2", "--out", str(out), "--workers", "2",
                                 "--overwrite"], started, settle=1.0)
    # settle: a SIGINT in the instant the worker pool forks is swallowed by logging's at-fork hook
    # ("Exception ignored in _releaseLock"); one second later the forks are done and the run is mid-way
    assert code == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("chronus-lab world: interrupted (Ctrl-C). Nothing was written")
    assert _digest(out) == before  # the old dataset, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w"]  # no half-written folder left


def test_ctrl_c_during_training_keeps_the_last_epoch_and_the_rerun_resumes(tmp_path):
    out = tmp_path / "run"
    args = ["train", "--config", "tiny-sft", "--threads", "1", "--set", "data.n_train=8", "data.n_val=2",
            "data.n_test=2", "data.tasks_per_clip=2", "data.batch_size=4", "data.eval_kinds=[v2t]",
            "max_epochs=50", "progress_bar=false", f"out={out}"]
    last = out / "checkpoints" / "last.ckpt"
    code, err = _interrupt_when([*CLI, *args], last.exists)
    assert code == 130 and "Traceback" not in err, err[-3000:]
    line = err.strip().splitlines()[-1]
    assert line.startswith("chronus-lab train: interrupted (Ctrl-C).") and "resume" in line
    assert last.exists() and not (out / "export").exists()  # kept the epoch; exported nothing partial
    import torch

    epoch = torch.load(last, weights_only=False)["epoch"]
    done = subprocess.run([*CLI, *args[:-2], "max_epochs=" + str(epoch + 2), f"out={out}"],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert torch.load(last, weights_only=False)["epoch"] == epoch + 1  # resumed, one more epoch
