"""Evaluation: metrics (``metrics.py``) and the harness (``harness.py``: predict → score → chance → table).

Layer 4: imports ``model`` and ``world`` only.
"""
