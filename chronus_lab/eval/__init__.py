"""Evaluation: metrics (``metrics.py``)."""
