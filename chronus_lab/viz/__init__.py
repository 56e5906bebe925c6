"""Plots used across the notebooks (matplotlib only; every function returns its Figure), and the
interactive explorer (``explorer_view``: what each panel shows, as data; ``explorer``: the widgets).
Layer 6: above ``train``/``eval`` (the explorer loads checkpoints and asks questions), below
``experiments`` (which time the explorer)."""
