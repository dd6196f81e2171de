"""A small real task for testing the training machinery (not part of the package).

A 2-layer NNX MLP with LayerNorm and dropout regressing a fixed random nonlinear map, fed by a
real Grain pipeline over an in-memory source. It exercises everything the loop, the step, the
shardings and the checkpoints do, at a size that compiles in seconds on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import time

import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

DIM = 16
WIDTH = 64


class ToyNet(nnx.Module):
    def __init__(self, dim: int, width: int, rngs: nnx.Rngs, dropout: float = 0.1):
        self.inp = nnx.Linear(dim, width, rngs=rngs)
        self.norm = nnx.LayerNorm(width, rngs=rngs)
        self.drop = nnx.Dropout(dropout, rngs=rngs)
        self.hidden = nnx.Linear(width, width, rngs=rngs)
        self.out = nnx.Linear(width, dim, rngs=rngs)

    def __call__(self, x):
        h = jax.nn.gelu(self.norm(self.inp(x)))
        h = self.drop(h)
        h = h + jax.nn.gelu(self.hidden(h))
        return self.out(h)


def _example(index: int) -> dict:
    rng = np.random.default_rng(int(index))
    x = rng.standard_normal((8, DIM)).astype(np.float32)
    w = np.random.default_rng(1234).standard_normal((DIM, DIM)).astype(np.float32) / 4
    return {"x": x, "y": np.tanh(x @ w).astype(np.float32)}


class ToyTask:
    """The loop's task protocol: build_model, loss_fn, make_iterator, (optional) evaluate."""

    name = "toy"

    poison_after = None

    def __init__(self, dropout: float = 0.1):
        self.dropout = dropout

    def build_model(self, config) -> nnx.Module:
        return ToyNet(DIM, WIDTH, nnx.Rngs(params=config.seed, dropout=config.seed + 1),
                      dropout=self.dropout)

    def loss_fn(self, model, batch, key):
        del key   # model randomness comes from the reseeded dropout stream
        pred = model(batch["x"]).astype(jnp.float32)
        mse = jnp.mean((pred - batch["y"]) ** 2)
        return mse, {"mse": mse}

    def make_iterator(self, config, local_batch_size: int, process_index: int,
                      process_count: int):
        # Batch first, then deal whole batches to processes: global step s always holds samples
        # [s*B, (s+1)*B) in process order, whatever the number of processes.
        ds = (grain.MapDataset.range(10_000).seed(config.seed).shuffle().repeat()
              .map(_example).batch(local_batch_size, drop_remainder=True)
              [process_index::process_count])
        it = iter(ds.to_iter_dataset())
        delay = float(os.environ.get("TOY_STEP_SLEEP", "0"))   # slows runs that tests kill
        return _Wrapped(it, sleep=delay, poison_after=self.poison_after)

    def evaluate(self, model, step: int) -> dict:
        batch = _example(10_001)
        pred = model(jnp.asarray(batch["x"]))
        return {"eval_mse": float(jnp.mean((pred - batch["y"]) ** 2))}


class NanFromStep3Task(ToyTask):
    """Feeds NaN inputs from the 3rd batch on, so the loss of step 3 is NaN."""

    poison_after = 2


class _Wrapped:
    """A checkpointable iterator wrapper that can sleep per batch or poison batches with NaN."""

    def __init__(self, it, sleep=0.0, poison_after=None):
        self.it, self.sleep, self.poison_after, self.count = it, sleep, poison_after, 0

    def __iter__(self):
        return self

    def __next__(self):
        batch = next(self.it)
        self.count += 1
        if self.sleep:
            time.sleep(self.sleep)
        if self.poison_after is not None and self.count > self.poison_after:
            batch = dict(batch, x=np.full_like(batch["x"], np.nan))
        return batch

    # grain's checkpoint handler stores non-DatasetIterator states as bytes
    def get_state(self) -> bytes:
        return json.dumps({"inner": self.it.get_state(), "count": self.count}).encode()

    def set_state(self, state: bytes):
        state = json.loads(state.decode())
        self.it.set_state(state["inner"])
        self.count = state["count"]

    def start_prefetch(self):
        pass


def get_config(arg=None) -> ml_collections.ConfigDict:
    """The training sections of configs/tiny.py, sized for the toy task.

    Usable as ``--config=tests/train_toy.py`` (with ``PYTHONPATH=tests``)."""
    del arg
    from configs import tiny
    full = tiny.get_config()
    c = ml_collections.ConfigDict()
    c.seed = 0
    for section in ("train", "mesh", "checkpoint"):
        c[section] = full[section]
    c.train.task = "train_toy:ToyTask"
    c.data = ml_collections.ConfigDict({"batch_size": 16})
    c.train.num_steps = 6
    c.train.lr = 1e-2
    c.train.warmup_steps = 2
    c.train.schedule = "constant"
    c.train.log_every = 1
    c.train.eval_every = 0
    c.train.progress_bar = False
    c.mesh.min_shard_size = 256
    c.checkpoint.save_every = 2
    c.checkpoint.async_save = False
    return c
