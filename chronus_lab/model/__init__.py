"""The model: configs, frozen encoders, projectors, tokenizer, time layout, and the Omni model.

Layer 2 (imports ``world`` and ``errors`` only). Notebooks 02–04 build it; ``OmniConfig.tiny()``
and ``OmniConfig.full()`` are the only difference between a laptop run and a GPU run.
"""
