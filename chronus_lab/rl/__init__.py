"""RL on temporal rewards: reward functions (``rewards.py``), PPO (``ppo.py``, the paper), GRPO
(``grpo.py``, the released code), and the loop that runs either (``run.py``). Notebook 08.

Layer 5, beside ``train``: it starts from a training checkpoint and trains the same adapters.
"""
