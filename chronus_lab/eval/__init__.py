"""Evaluation: metrics (``metrics.py``) and the harness (``harness.py``: predict → score → chance → table).\n\nLayer 4: imports ``model`` and ``world`` only.\n"""
