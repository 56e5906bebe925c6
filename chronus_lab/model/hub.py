"""Loading from the Hugging Face hub, with one clear message when the weights are not there.

Used by ``encoders.py``, ``tokenizer.py`` and ``omni.py``; tested in ``tests/test_config.py``.

Offline (``HF_HUB_OFFLINE=1``, as in tiny mode and CI) a hub id fails at once with a deep
``OSError``; without the variable it first stalls ~47 s in retries. Either way the student sees a
long traceback. ``from_pretrained`` turns that into one message saying how to get the weights.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path


from ..errors import WeightsNotAvailable

__all__ = ["WeightsNotAvailable", "from_pretrained", "quiet_transformers"]


@contextmanager
def quiet_transformers():
    """Hide transformers' per-key load reports (we check what loaded ourselves)."""
    from transformers.utils import logging as hf_logging

    level, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)
        if bars:
            hf_logging.enable_progress_bar()


@contextmanager
def quiet_peft():
    """PEFT (0.21) still calls ``is_gradient_checkpointing``, a name transformers 5 deprecates: the
    FutureWarning is about PEFT's code, not ours, and says nothing a student can act on."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def looks_local(name: str) -> bool:
    return name.startswith((".", "/", "~")) or Path(name).expanduser().exists()


def from_pretrained(cls, name: str, **kwargs):
    """``cls.from_pretrained(name)``, or a WeightsNotAvailable that says what to do."""
    if looks_local(name) and not Path(name).expanduser().exists():
        raise WeightsNotAvailable(
            f"local folder {name} does not exist. Tiny base models are made by "
            "`chronus-lab base --out assets/tiny` (they ship in the repository's assets/).")
    from safetensors import SafetensorError

    local = looks_local(name)
    # a hub id fails with OSError when missing, gated or offline; a local folder that is there but damaged (a
    # cut-short weight file, a hand-edited config) with safetensors' error or a ValueError; anything else is ours
    try:
        with quiet_transformers():
            return cls.from_pretrained(name, **kwargs)
    except (OSError, ValueError, SafetensorError) as err:
        if not local and not isinstance(err, OSError):
            raise
        if local:
            detail = (str(err).splitlines() or [""])[0][:200]
            raise WeightsNotAvailable(
                f"local folder {name} does not load ({type(err).__name__}: {detail}) — damaged? Restore it "
                f"(`git checkout -- {name}` for the shipped assets/tiny) or make it again (`chronus-lab base --out "
                f"assets/tiny`).") from None
        offline = os.environ.get("HF_HUB_OFFLINE") == "1"
        raise WeightsNotAvailable(
            f"could not load '{name}' ({'HF_HUB_OFFLINE=1: the hub is off' if offline else type(err).__name__}). "
            f"Full-scale configs need the pretrained weights: on a machine with internet run "
            f"`huggingface-cli login` (gated models such as Llama-2 need an accepted licence) and "
            f"`huggingface-cli download {name}`, then unset HF_HUB_OFFLINE or point the config at the "
            f"downloaded folder. Tiny mode needs no download: use OmniConfig.tiny()."
        ) from None
