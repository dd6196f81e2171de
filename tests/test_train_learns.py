"""The embedded default learns: a few minutes of `configs/tiny.py` training on the procedural
world, then (1) estimation-mode MPJPE from 2D keypoints on HELD-OUT procedural clips (another
seed) well below the mean-motion baseline, and (2) text-conditioned samples whose root moves
forward for "walks forward" and not for "stands still" / "squats".

Also runnable by hand: `pytest -m slow -s tests/test_train_learns.py` prints the figures.
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
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

    # Text conditioning: the same trained model, sampled from captions alone (50-step guided
    # DDIM, the real sampler). Forward root displacement in the body's initial heading frame.
    displacement = {caption: _forward_displacement(model, c, stats_of(train_dir), caption)
                    for caption in ("a person walks forward", "a person stands still", "a person squats")}
    print("text -> forward root displacement over 3 s (m, mean of 8 samples): "
          + ", ".join(f"'{k}': {v.mean():.2f}" for k, v in displacement.items()))
    walk = displacement["a person walks forward"]
    still = np.concatenate([displacement["a person stands still"], displacement["a person squats"]])
    # A model that ignores its caption gives the same distribution for all three captions.
    assert walk.mean() > 1.0
    assert walk.mean() > still.mean() + 1.0
    assert (walk[:, None] > still[None, :]).mean() > 0.8   # pairwise: far above chance (0.5)


def stats_of(shard_dir):
    from genmo_jax.motion.normalization import NormStats

    with np.load(os.path.join(shard_dir, "stats.npz")) as z:
        return NormStats(mean=jnp.asarray(z["mean"]), std=jnp.asarray(z["std"]))


def _forward_displacement(model, config, norm_stats, caption, samples=8, frames=90):
    """(samples,) metres the root moves along the body's initial facing direction."""
    from genmo_jax import sample, timeline
    from genmo_jax.body.select import body_model_from_config

    tl = timeline.parse_timeline({"frames": frames, "num_samples": samples, "ddim_steps": 50,
                                  "texts": [{"text": caption}]})
    run, state = sample.make_sampler(model, config, tl, norm_stats)
    out = run(state, jax.random.key(0))
    results = sample.decode_outputs(out, tl, norm_stats, body_model_from_config(config.body),
                                    clip_std=bool(config.model.get("clip_std", True)))
    moved = []
    for r in results:
        joints = r["joints_w"]
        left = joints[0, 1] - joints[0, 2]                      # right hip -> left hip
        forward = np.cross(left, [0.0, 1.0, 0.0])               # SMPL faces +z with left = +x
        forward = forward[[0, 2]] / np.linalg.norm(forward[[0, 2]])
        moved.append(float(np.dot(joints[-1, 0, [0, 2]] - joints[0, 0, [0, 2]], forward)))
    return np.asarray(moved)
