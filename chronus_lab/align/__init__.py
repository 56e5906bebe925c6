"""Meerkat's two alignment losses: optimal transport (``ot.py``) and attention consistency (``avace.py``).

Layer 3: losses only (imports ``model``, ``world``, ``errors``); the experiments that measure them live in
``experiments/``.
"""
