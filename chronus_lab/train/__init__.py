"""Training: a plain loop for short experiments (``quick.py``); Lightning SFT arrives with notebook 07."""
