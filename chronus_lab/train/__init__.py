"""Training: the plain loop (``loop.py``), stage-0 base models (``base.py``), and Lightning SFT (notebook 07).

Layer 5: imports ``eval`` (checkpoints are chosen by task metrics), ``align``, ``model``, ``world``.
"""
