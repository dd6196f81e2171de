"""Training: train state, losses, the pure train step, the loop and checkpoints.

The embedded default, from the repo root:

    python -m genmo_jax.data.procedural --clips 200 --out data/shards/procedural
    python -m genmo_jax.data.stats --shards data/shards/procedural
    python -m genmo_jax.train --config=configs/tiny.py --workdir runs/tiny

``--config.train.num_steps=N`` is the total: rerunning on the same workdir resumes and stops at
N. Several processes: see launch/README.md. Modules: ``state`` (train-state pytree, optimizer,
EMA), ``step`` (the jitted step), ``losses`` (SPEC B 4.2 terms), ``objective`` (the dual-mode
GENMO objective), ``genmo_task`` (model + data + objective for the loop), ``loop``,
``checkpoint`` (Orbax), ``config`` (validation), ``metrics`` (JSONL / TensorBoard).
"""
