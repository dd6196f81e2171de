"""Training: train state, losses, the pure train step, the loop and checkpoints.

Entry point: ``python -m genmo_jax.train --config=configs/tiny.py --workdir runs/tiny``.
"""
