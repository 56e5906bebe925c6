"""ChronusLab: a notebook-first educational reproduction of ChronusOmni and Meerkat.

The notebooks in ``notebooks/`` build each piece; this package holds the one copy of the logic.
Importing it is cheap: no torch, no CUDA call at import time.
"""
__version__ = "0.1.0"
