"""Shared set-up of the tests that run the real GENMO task on a few procedural clips."""

from configs import tiny
from genmo_jax.data import shards, stats
from genmo_jax.data.procedural import records
from genmo_jax.data.procedural.__main__ import load_skeleton


def write_procedural_shards(root, count, seed=0):
    """`count` walking/everyday procedural clips (no dances) + their stats.npz in `root`."""
    skeleton = load_skeleton("open")
    with shards.ShardWriter(str(root), records.DATASET, 64) as writer:
        for i in range(count):
            writer.add(records.generate_record(skeleton, seed, i, dance_prob=0.0))
    stats.main(["--shards", str(root)])
    return str(root)


def small_genmo_config(shard_dir, batch, window):
    """configs/tiny.py shrunk to a 16-wide, 1-layer network reading `shard_dir`."""
    c = tiny.get_config()
    c.model.latent_dim, c.model.num_layers, c.model.num_heads = 16, 1, 2
    c.data.shard_dirs.procedural = str(shard_dir)
    c.data.batch_size, c.data.window = batch, window
    return c
