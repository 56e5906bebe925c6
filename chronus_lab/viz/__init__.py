"""Plots used across the notebooks (matplotlib only; every function returns its Figure). Layer 7."""
