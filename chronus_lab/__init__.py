"""ChronusLab: a notebook-first educational reproduction of ChronusOmni and Meerkat.

The notebooks in ``notebooks/`` build each piece; this package holds the one copy of the logic.
Importing it is cheap: no torch, no CUDA call at import time.

Layers, bottom to top (``LAYERS``; a module imports only from its own layer or below —
``tests/test_layers.py`` fails otherwise):

0. ``errors``, ``typed``, ``setup``, ``compare`` — error types, typed config values, the notebook setup
   helper, the Check helper;
1. ``world`` — synthetic clips with exact ground truth, tasks, time formats, datasets on disk;
2. ``model`` — configs, encoders, projectors, tokenizer, time layout, the Omni model;
3. ``align`` — Meerkat's losses (AVOpT, AVACE), losses only;
4. ``eval`` — metrics and the evaluation harness (a model and questions in, a table out);
5. ``train``, ``rl`` — the plain loop, stage 0, Lightning stages 1–2 (choosing checkpoints with ``eval``);
   RL (PPO, GRPO) from a training checkpoint;
6. ``viz`` — plots, and the interactive explorer (its view model reads models, clips and tasks);
7. ``experiments`` — one ``run(...) -> rows`` per experiment or benchmark, found by name (the
   explorer's speed is one of them, so they sit above ``viz``);
8. ``cli`` — the ``chronus-lab`` command.

``eval`` sits below ``train`` (the design notes put them side by side) because training chooses its
best checkpoint by task metrics, so the trainer calls the harness — never the other way round.
"""
__version__ = "0.1.0"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "typed", "setup", "compare"),
    ("world",),
    ("model",),
    ("align",),
    ("eval",),
    ("train", "rl"),
    ("viz",),
    ("experiments",),
    ("cli",),
)
