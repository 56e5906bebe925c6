"""Meerkat's two alignment losses: optimal transport (``ot.py``) and attention consistency (``avace.py``)."""
