"""Tokenizers: a tiny one trained on the world's text, or the LLM's own — both with time tokens.

Built in ``notebooks/03_projectors_and_llm_inputs.ipynb``; tested in ``tests/test_tokenizer.py``.

Tiny: a byte-level BPE (the ``tokenizers`` library, as GPT-2/Llama-3 tokenizers are made) trained
on questions, answers and captions of the synthetic world, digits split one by one so that
``second{12.5}`` is read digit by digit. Full: the LLM's tokenizer from the hub. Either way the
result is a ``PreTrainedTokenizerFast`` that gained the special tokens the model needs:
``<t_0> … <t_{K-1}>`` (ChronusOmni's timestamp tokens) and the modality markers.
"""
from __future__ import annotations

import os

from ..world import WorldConfig, make_clip, make_tasks
from ..world.time_format import TextTime, TokenTime

# Order matters: CLIP's text tower pools at the first </s> unless eos_token_id == 2, where it takes
# a legacy path (argmax of the ids). So </s> gets id 3: <unk>=0, <pad>=1, <s>=2, </s>=3.
BASE_SPECIALS = {"unk_token": "<unk>", "pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>"}
MODALITY_TOKENS = ["<vision>", "<audio>"]  # placeholders: their positions receive projected features


def time_tokens(n: int) -> list[str]:
    return [f"<t_{k}>" for k in range(n)]


def model_token_ids(tok, max_time_tokens: int) -> list[int]:
    """Ids of the tokens the project adds (modality placeholders and ``<t_k>``) in ``tok``."""
    return tok.convert_tokens_to_ids(MODALITY_TOKENS + time_tokens(max_time_tokens))


def world_corpus(n_clips: int = 400, seed: int = 10_000):
    """Every task's question and answer, in both time formats, for ``n_clips`` clips."""
    cfg = WorldConfig()
    for i in range(n_clips):
        clip = make_clip(cfg, seed, i)
        for fmt in (TextTime(), TokenTime()):
            for task in make_tasks(clip, seed=seed, fmt=fmt):
                yield f"{task.question} {task.answer}"


def add_model_tokens(tok, max_time_tokens: int):
    """Give a tokenizer the time and modality tokens, and a pad token if it has none."""
    from tokenizers import AddedToken

    # lstrip: the space before "<t_3>" belongs to the token, not a separate "Ġ" position
    extra = [AddedToken(t, lstrip=True, special=True) for t in MODALITY_TOKENS + time_tokens(max_time_tokens)]
    tok.add_special_tokens({"additional_special_tokens": extra})
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def train_tiny_tokenizer(max_time_tokens: int = 64, vocab_size: int = 384, n_clips: int = 400):
    """Train a byte-level BPE on the world's text and wrap it as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),  # numbers read digit by digit
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(BASE_SPECIALS.values()),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(world_corpus(n_clips), trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, **BASE_SPECIALS)
    return add_model_tokens(tok, max_time_tokens)


def load_tokenizer(name_or_path: str | None, max_time_tokens: int = 64):
    """The tokenizer of a config: a saved folder / hub id, or (None) a freshly trained tiny one."""
    if name_or_path is None:
        return train_tiny_tokenizer(max_time_tokens)
    from transformers import AutoTokenizer

    from .hub import from_pretrained

    tok = from_pretrained(AutoTokenizer, name_or_path)
    missing = [t for t in time_tokens(max_time_tokens) if t not in tok.get_vocab()]
    return add_model_tokens(tok, max_time_tokens) if missing else tok


def save_tokenizer(tok, path) -> None:
    os.makedirs(path, exist_ok=True)
    tok.save_pretrained(path)
