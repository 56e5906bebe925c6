"""A run whose loss or weights turn NaN stops with one error and keeps what it saved before it (train/finite.py).

Before, a diverged SFT run trained on, wrote NaN weights over its good last.ckpt, exported them, and `eval` scored
them as a model that answers nothing.
"""
import lightning as L
import pytest
import torch

from chronus_lab.errors import CheckpointError, Diverged
from chronus_lab.train.config import TrainConfig
from chronus_lab.train.finite import non_finite
from chronus_lab.train.loop import fit as fit_loop
from chronus_lab.train.module import load_checkpoint
from chronus_lab.train.run import fit, prepare

SHORT = ["data.n_train=6", "data.n_val=2", "data.n_test=2", "data.tasks_per_clip=2", "data.batch_size=4",
         "data.eval_kinds=[v2t]", "max_epochs=2", "progress_bar=false"]


class Poison(L.Callback):
    """Put a NaN into one LoRA weight at a hook of the second epoch — what a too-large step does."""

    def __init__(self, hook: str):
        setattr(self, hook, self.poison)

    def poison(self, trainer, module, *args):
        if trainer.current_epoch == 1 and not getattr(self, "done", False):
            weight = next(p for n, p in module.named_parameters() if "lora_A" in n)
            with torch.no_grad():
                weight[0, 0] = float("nan")
            self.done = True


@pytest.mark.parametrize("hook, words", [
    # the loss of the first step after the poison (3 batches an epoch)
    ("on_train_batch_start", "training diverged at step 3 \\(epoch 1\\): the loss is nan"),
    # the loss never saw it: the checkpoint at the end of the epoch is refused
    ("on_validation_start", "training diverged by step 6: its weights hold NaN or inf in 1 tensor \\(.*lora_A.*\\), "
                            "so no checkpoint was written"),
])
def test_a_diverged_run_stops_keeps_the_last_good_checkpoint_and_exports_nothing(tmp_path, hook, words):
    out = tmp_path / "run"
    run = prepare(TrainConfig.load("tiny-grounding", [*SHORT, f"out={out}"]), quiet=True)
    run.trainer.callbacks.append(Poison(hook))
    with pytest.raises(Diverged, match=words + ".*lower the learning rate \\(lr is 0.002; try --set lr=0.0002\\)"):
        fit(run)
    kept = load_checkpoint(out / "checkpoints" / "last.ckpt")  # the first epoch's, finite
    assert kept.loaded_from["epoch"] == 0
    assert not non_finite(kept.state_dict().items())
    assert not (out / "export").exists()


def test_a_checkpoint_with_nan_weights_is_refused_in_one_line(tmp_path, capsys):
    from chronus_lab.cli import main

    ckpt = torch.load("assets/tiny/grounding.ckpt", map_location="cpu", weights_only=False)
    name = next(k for k in ckpt["state_dict"] if "lora_B" in k)
    ckpt["state_dict"][name][0, 0] = float("inf")
    torch.save(ckpt, tmp_path / "diverged.ckpt")
    with pytest.raises(CheckpointError, match=f"holds NaN or inf in 1 tensor \\({name}\\): the run that wrote it "
                                              "diverged. Retrain it with a lower learning rate"):
        load_checkpoint(tmp_path / "diverged.ckpt")
    assert main(["eval", "--ckpt", str(tmp_path / "diverged.ckpt"), "--limit", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "NaN or inf" in err and "Traceback" not in err


def test_the_plain_loop_stops_at_the_first_nan_loss_with_the_weights_before_it():
    w = torch.nn.Parameter(torch.ones(3))
    seen = []

    def loss_at(step):
        seen.append(w.detach().clone())
        return (w * (float("nan") if step == 3 else 1.0)).pow(2).sum()

    with pytest.raises(Diverged, match="diverged at step 4 of 10: the loss is nan; lower the learning rate"):
        fit_loop([w], loss_at, steps=10, lr=0.1)
    assert torch.equal(w.detach(), seen[-1]) and torch.isfinite(w).all()  # no update from the NaN step
