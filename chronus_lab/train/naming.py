"""Slice naming: an auxiliary loss that makes every feature position say what it shows or sounds like.

Tested in ``tests/test_naming.py``; a lever of ``tiny-grounding`` (``w_naming``), measured in the README.

Why: the implicit questions ("when the siren is heard, what appears?") end by *naming* what a slice
shows, and the answers alone teach that naming slowly — one answer token per question, while a
clip has a visual and an audio position per slice (``shared/CALIBRATION.md``: the model finds what a
word names long before it names what it perceives). LLaVA-style models train the naming first (stage 1:
caption). Here it is dense and free: the LLM's logits at a slice's visual positions are asked for the
words of the objects on screen then (``nothing`` when none), at its audio positions for the sounds heard,
through the model's own ``lm_head``. Answer positions then only have to find the right slice and copy
what it already says. The target of a position is the bag of its label's tokens (uniform over them):
a name may take several tokens, and several objects may be on screen.

Slice pairing (``w_pairing``, ``slice_partners``) is the same loss on other labels: a visual position is asked
for the sound its object *makes*, an audio position for the object *making* its sound — what the implicit
questions end on, and what perception alone does not give (measured and not adopted: README, "Slice pairing").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..model.timestamps import AUDIO, VISION, answer_ids
from ..world.tasks import join_labels


def slice_names(parts) -> list[tuple[str, str]]:
    """Per slice of a clip (``world.slices(clip, plan)``): (what is on screen, what is heard) at the instant it
    is read, as answers write them."""
    return [(join_labels(s.seen), join_labels(s.heard)) for s in parts]


def slice_partners(parts) -> list[tuple[str, str]]:
    """Per slice: (the sounds the objects on screen make, the objects making the sounds heard), as answers write
    them (``nothing`` when no object on screen sounds / no heard sound has an object). The implicit questions
    end on exactly this pairing ("what sound does the red circle make?"), which perception alone does not give:
    a sound that merely overlaps an object is not its sound (``w_pairing``)."""
    return [(join_labels(sorted(e.sound for e in s.objects if e.sound)),
             join_labels(sorted(e.object for e in s.sounds if e.object))) for s in parts]


class NameTargets:
    """Label text → the soft target over a vocabulary of ``size`` (uniform over the text's tokens), cached."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._cache: dict[tuple[str, int], torch.Tensor] = {}

    def __call__(self, text: str, size: int) -> torch.Tensor:
        if (text, size) not in self._cache:
            ids = sorted(set(answer_ids(self.tokenizer, text)))  # the tokens an answer naming it would write
            target = torch.zeros(size)
            target[ids] = 1.0 / len(ids)
            self._cache[text, size] = target
        return self._cache[text, size]


def naming_loss(logits: torch.Tensor, modality: torch.Tensor, slice_idx: torch.Tensor,
                names: list[list[tuple[str, str]]], targets: NameTargets) -> torch.Tensor:
    """Mean cross-entropy between the logits at every visual / audio position (``(B, L, V)``) and the bag of
    tokens naming what its slice shows / sounds like (``names[b][slice]`` = (seen, heard))."""
    rows, want = [], []
    for b, per_slice in enumerate(names):
        for which, mod in ((0, VISION), (1, AUDIO)):
            pos = (modality[b] == mod).nonzero().flatten()
            if len(pos) == 0:
                continue
            rows.append(logits[b, pos])
            want.append(torch.stack([targets(per_slice[int(s)][which], logits.shape[-1]) for s in slice_idx[b, pos].tolist()]))
    if not rows:
        return logits.new_zeros(())
    logits, want = torch.cat(rows), torch.cat(want).to(logits)
    return -(want * F.log_softmax(logits.float(), -1)).sum(-1).mean()
