"""The embedded default learns: a few minutes of `configs/tiny.py` training on the procedural
world, then estimation-mode MPJPE from 2D keypoints on HELD-OUT procedural clips (another seed)
well below the mean-motion baseline.

Also runnable by hand: `pytest -m slow -s tests/test_train_learns.py` prints the figures.
"""

import json
import os

import jax
import jax.numpy as jnp
import pytest

from configs import tiny
from genmo_jax.data import pipeline, shards, stats
from genmo_jax.data.procedural import records
from genmo_jax.data.procedural.__main__ import load_skeleton
from genmo_jax.train import checkpoint as ckpt
from genmo_jax.train import genmo_task, loop, objective
from genmo_jax.train import state as state_lib

STEPS = 500


def _write(root, seed, count, skeleton):
    with shards.ShardWriter(str(root), records.DATASET, 256) as writer:
        for i in range(count):
            writer.add(records.generate_record(skeleton, seed, i, dance_prob=0.0))


@pytest.mark.slow
def test_tiny_estimation_beats_the_mean_motion_on_held_out_clips(tmp_path):
    skeleton = load_skeleton("open")
    train_dir, test_dir = tmp_path / "train", tmp_path / "test"
    _write(train_dir, 11, 96, skeleton)
    _write(test_dir, 12345, 16, skeleton)                 # held out: other clips entirely
    stats.main(["--shards", str(train_dir)])

    c = tiny.get_config()
    c.data.shard_dirs.procedural = str(train_dir)
    c.data.window = 60
    c.train.num_steps = STEPS
    c.train.warmup_steps = 20
    c.train.lr = 2e-3
    c.train.eval_every = 0
    c.train.progress_bar = False
    c.checkpoint.save_every = STEPS
    result = loop.run(c, str(tmp_path / "run"))
    assert result.step == STEPS

    # held-out batch: same statistics and body, clips never seen in training
    task = genmo_task.GenmoTask()
    task.setup(c)
    c_test = c.copy_and_resolve_references()
    c_test.data.shard_dirs.procedural = str(test_dir)
    it = genmo_task.HostBatches(iter(pipeline.make_dataset(c_test, 16, 0, 1, seed=99)), None)
    batch = {k: jnp.asarray(v) for k, v in next(it).items()}
    it.close()
    _, saved = ckpt.read_state(str(tmp_path / "run" / "checkpoints"), STEPS)
    mdef, _, _ = state_lib.split_model(task.build_model(c))
    model = mdef.merge(saved["ema"], saved["rest"])
    mpjpe, baseline = jax.jit(lambda b: objective.estimation_mpjpe(model, b, task.spec))(batch)
    rows = [json.loads(line) for line in open(os.path.join(tmp_path, "run", "metrics.jsonl"))]
    print(f"\ntiny, {STEPS} steps: loss {rows[0]['loss']:.1f} -> {rows[-1]['loss']:.1f}; held-out "
          f"estimation MPJPE {float(mpjpe):.1f} mm vs mean-motion {float(baseline):.1f} mm")
    assert float(mpjpe) < 0.85 * float(baseline)   # a model ignoring its input: ~1.0
    assert rows[-1]["loss"] < 0.8 * rows[0]["loss"]
