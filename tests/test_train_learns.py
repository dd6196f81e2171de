"""The embedded default learns: `configs/tiny.py` trained on the procedural world (1500 steps,
~12 min on 2 idle CPU cores), then
(1) estimation-mode MPJPE from 2D keypoints on HELD-OUT procedural clips (another seed) well
    below the mean-motion baseline, and
(2) text-conditioned samples (50-step guided DDIM, the benchmarks' sampler) whose root follows
    the caption: "walks forward" moves forward and "turns left" yaws left (positive about +y),
    each compared pairwise with the samples of the other captions (a model that ignores its
    caption wins half of those comparisons), and "turns left" against "turns right".
    "jumps up in place" rising is measured and printed the same way but NOT asserted: no tiny
    model trained here separates it (every caption's root sinks by a caption-independent
    vertical velocity bias; issue 7 item 7; benchmarks/RESULTS.md "Learning test").

What makes the turn learnable in minutes (tiny.py; RESULTS.md): captioned rows get a static
camera facing the body's first frame (`generation_camera = "front"`: without a camera condition a
moving camera makes the GV heading ambiguous, and a random start heading averages a turn away)
and the `gv_j3d` loss supervises the GV orientation in metres.

Training data: the procedural world with every everyday action equally often
(`world.BALANCED_ACTION_WEIGHTS`): with the default walking-heavy mix the unconditional branch
walks forward and guidance pushes every other caption backward (RESULTS.md).

The statistics of (2) are read off the sampled world joints by `root_measures`; the fast test
below checks them on ground-truth procedural clips passed through the sampler's own decoding
(level static camera, rollout, ground lift), so a sign or frame error in the measurement or in
the decoding cannot pass as a learning result.

Also runnable by hand: `pytest -m slow -s tests/test_train_learns.py` prints the figures.
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from configs import tiny
from genmo_jax.data.procedural import records, world
from genmo_jax.data.procedural.__main__ import load_skeleton

STEPS = 1500
TRAIN_CLIPS = 192       # balanced action mix (world.BALANCED_ACTION_WEIGHTS)
WINDOW = 60             # training window and sampled length, frames (2 s)
SAMPLES = 32            # samples per caption
CAPTIONS = {            # label -> caption as the procedural world writes it
    "walk": "a person walks forward",
    "stand": "a person stands still",
    "squat": "a person does a squat",
    "jump": "a person jumps up in place",
    "turn_left": "a person turns left",
    "turn_right": "a person turns right",
}


def root_measures(joints_w):
    """World joints (L, 24, 3), y-up metres -> (forward, rise, yaw, bump):

    forward: metres the pelvis moves along the body's initial facing direction (first to last
      frame); rise: metres the pelvis gets above its first-frame height (max over frames);
    yaw: degrees the facing direction turns about +y, first to last frame, unwrapped
      (positive = to the body's left). Facing = (left hip - right hip) x up (SMPL faces +z
      with its left hip at +x);
    bump: metres the pelvis gets above the straight line from its first- to its last-frame
      height (max over frames): an up-and-down event such as a jump, blind to a steady climb or
      sink (a constant vertical velocity, which a diffusion sample may carry whatever its
      caption; benchmarks/RESULTS.md "Learning test", session 4).
    """
    joints_w = np.asarray(joints_w, np.float64)
    left = joints_w[:, 1] - joints_w[:, 2]
    facing = np.cross(left, [0.0, 1.0, 0.0])[:, [0, 2]]
    heading = np.unwrap(np.arctan2(facing[:, 0], facing[:, 1]))
    start = facing[0] / np.linalg.norm(facing[0])
    forward = float(np.dot(joints_w[-1, 0, [0, 2]] - joints_w[0, 0, [0, 2]], start))
    height = joints_w[:, 0, 1]
    chord = np.linspace(height[0], height[-1], len(height))
    return (forward, float(height.max() - height[0]), float(np.degrees(heading[-1] - heading[0])),
            float((height - chord).max()))


def _decode_ground_truth(clips, body):
    """World-frame procedural clips -> the 151-d vector seen by the level static camera ->
    world joints by `sample.decode_outputs` (the path every text sample takes), one batch.
    Clips are padded to one length by holding their last frame (no measure changes)."""
    from genmo_jax import sample, timeline
    from genmo_jax.motion.gravity_view import gravity_view_rotation
    from genmo_jax.motion.normalization import NormStats
    from genmo_jax.motion.representation import encode_motion

    num = max(clip["transl"].shape[0] for clip in clips)

    def held(a):
        return np.concatenate([a, np.repeat(a[-1:], num - a.shape[0], 0)])

    orient_w = np.stack([held(clip["global_orient"]) for clip in clips])
    R_w2c = np.broadcast_to(sample.LEVEL_CAMERA.astype(np.float64), orient_w.shape[:2] + (3, 3))
    orient_c = (Rotation.from_matrix(R_w2c.reshape(-1, 3, 3))
                * Rotation.from_rotvec(orient_w.reshape(-1, 3))).as_rotvec().reshape(orient_w.shape)
    x = encode_motion({"body_pose": np.stack([held(clip["body_pose"]) for clip in clips]),
                       "betas": np.zeros(orient_w.shape[:2] + (10,)), "global_orient": orient_c},
                      {"global_orient": orient_w,
                       "transl": np.stack([held(clip["transl"]) for clip in clips])},
                      gravity_view_rotation(jnp.asarray(R_w2c, jnp.float32)))
    identity = NormStats(mean=jnp.zeros(151), std=jnp.ones(151))
    out = {"x0": x, "pred_cam": jnp.ones(x.shape[:2] + (3,)),
           "contact_logits": jnp.zeros(x.shape[:2] + (6,))}
    decoded = sample.decode_outputs(out, timeline.parse_timeline({"frames": num}), identity, body,
                                    clip_std=False)
    return [d["joints_w"] for d in decoded]


def test_root_measures_read_ground_truth_clips_through_the_sampler_decoding():
    import ml_collections

    from genmo_jax.body.select import body_model_from_config

    body = body_model_from_config(ml_collections.ConfigDict({"model": "open"}))
    skeleton = load_skeleton("open").skeleton(np.zeros(10))   # the body's rest joints
    labels = ("walk", "stand", "jump", "turn_left", "turn_right")
    clips = []
    for label in labels:
        rng = np.random.default_rng(3)
        state = world.initial_state(skeleton, rng)    # random heading and place
        clips.append(world.finish_clip(
            skeleton, [world.make_segment(skeleton, rng, state, label, True)]))
    measured = {}
    for label, clip, joints in zip(labels, clips, _decode_ground_truth(clips, body)):
        truth, decoded = root_measures(clip["joints_w"]), root_measures(joints)
        np.testing.assert_allclose(decoded[:2], truth[:2], atol=0.01, err_msg=label)
        np.testing.assert_allclose(decoded[3], truth[3], atol=0.01, err_msg=label)
        np.testing.assert_allclose(decoded[2], truth[2], atol=1.0, err_msg=label)
        measured[label] = decoded
    forward, rise, yaw, bump = (dict(zip(measured, values)) for values in zip(*measured.values()))
    assert forward["walk"] > 1.0 and abs(forward["stand"]) < 0.01
    assert rise["jump"] > 0.1 and max(rise["stand"], rise["walk"], rise["turn_left"]) < 0.05
    assert bump["jump"] > 0.1 and max(bump["stand"], bump["walk"], bump["turn_left"]) < 0.05
    assert yaw["turn_left"] > 45 and yaw["turn_right"] < -45
    assert max(abs(yaw["stand"]), abs(yaw["walk"]), abs(yaw["jump"])) < 1.0


def _write(root, seed, count, skeleton):
    from genmo_jax.data import shards

    with shards.ShardWriter(str(root), records.DATASET, 256) as writer:
        for i in range(count):
            writer.add(records.generate_record(skeleton, seed, i, dance_prob=0.0,
                                               action_weights=world.BALANCED_ACTION_WEIGHTS))


def _pairwise(winner, losers):
    """Fraction of (winner sample, loser sample) pairs the winner wins (chance: 0.5)."""
    return float((np.asarray(winner)[:, None] > np.asarray(losers)[None, :]).mean())


@pytest.mark.slow
def test_tiny_learns_estimation_and_follows_captions(tmp_path):
    from genmo_jax.body.select import body_model_from_config
    from genmo_jax.data import pipeline, stats
    from genmo_jax.evaluate.generation_sampler import BatchSampler, item_noise
    from genmo_jax.model.text import load_text_encoder
    from genmo_jax.params_io import ExportedParams
    from genmo_jax.train import checkpoint as ckpt
    from genmo_jax.train import genmo_task, loop, objective
    from genmo_jax.train import state as state_lib

    skeleton = load_skeleton("open")
    train_dir, test_dir = tmp_path / "train", tmp_path / "test"
    _write(train_dir, 11, TRAIN_CLIPS, skeleton)
    _write(test_dir, 12345, 16, skeleton)                 # held out: other clips entirely
    stats.main(["--shards", str(train_dir)])

    c = tiny.get_config()
    c.data.shard_dirs.procedural = str(train_dir)
    c.data.window = WINDOW
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

    # Text conditioning: every caption x SAMPLES, one compiled guided-DDIM call per guidance
    # scale: 2.5 (the release's sampler) is asserted; 1.0 (no guidance) is printed because the
    # difference between the two is where the backward drift of non-walking captions comes
    # from (an unconditional branch that walks forward at the data's mean speed, extrapolated
    # away from by u + s (c - u); benchmarks/RESULTS.md "Learning test").
    encoder = load_text_encoder(c.text)
    states, mask = encoder.encode(list(CAPTIONS.values()))
    states = np.asarray(states, np.float32) * np.asarray(mask, np.float32)[..., None]
    items = [{"num_frames": WINDOW, "text": states[k],
              "noise": item_noise(0, k * SAMPLES + i, WINDOW)}
             for k in range(len(CAPTIONS)) for i in range(SAMPLES)]
    exported = ExportedParams(model=model, config=c, stats={"mean": np.asarray(task.spec.stats.mean),
                                                           "std": np.asarray(task.spec.stats.std)})
    body = body_model_from_config(c.body)
    measured = {}
    for scale in (1.0, 2.5):
        sampler = BatchSampler(exported, body, WINDOW, len(items), guidance_scale=scale)
        values = np.array([root_measures(r["joints_w"]) for r in sampler.sample(items)])
        values = values.reshape(len(CAPTIONS), SAMPLES, 4)
        measured[scale] = [{label: values[k, :, m] for k, label in enumerate(CAPTIONS)}
                           for m in range(4)]
        print(f"guidance {scale}: text -> root over {WINDOW / 30:.0f} s, mean of {SAMPLES} "
              "samples: forward m / rise m / yaw deg / bump m")
        forward, rise, yaw, bump = measured[scale]
        for label, caption in CAPTIONS.items():
            print(f"  {caption!r:30s} {forward[label].mean():+6.2f} {rise[label].mean():6.3f} "
                  f"{yaw[label].mean():+5.0f} {bump[label].mean():6.3f}")

    def others(values, label):
        return np.concatenate([v for k, v in values.items() if k != label])

    # A model that ignores its caption gives every caption the same distribution: pairwise
    # comparisons against all other captions ~0.5.
    forward, rise, yaw, bump = measured[2.5]
    walk_wins = _pairwise(forward["walk"], others(forward, "walk"))
    jump_wins = _pairwise(bump["jump"], others(bump, "jump"))
    rise_wins = _pairwise(rise["jump"], others(rise, "jump"))
    left_wins = _pairwise(yaw["turn_left"], others(yaw, "turn_left"))
    n_other = SAMPLES * (len(CAPTIONS) - 1)
    null_sd = np.sqrt((SAMPLES + n_other + 1) / (12.0 * SAMPLES * n_other))  # Mann-Whitney, no ties
    print(f"pairwise wins vs the other captions (chance 0.5, sd {null_sd:.3f} for a caption-blind "
          f"model): walk forward {walk_wins:.2f}, jump bump {jump_wins:.2f} (rise above the first "
          f"frame {rise_wins:.2f}), turn-left yaw {left_wins:.2f}")
    left_right = _pairwise(yaw["turn_left"], yaw["turn_right"])
    print(f"turn-left yaw vs turn-right yaw: {left_right:.2f} (caption-blind sd "
          f"{np.sqrt((2 * SAMPLES + 1) / (12.0 * SAMPLES ** 2)):.3f})")
    assert forward["walk"].mean() > 0.5
    assert walk_wins > 0.8                  # > 5 null sd (0.056)
    assert left_wins > 0.7                  # > 3.5 null sd
    assert left_right > 0.75                # > 3 null sd (0.073)
    assert jump_wins > 0.75                 # > 4.5 null sd: the jump goes up (and comes down)
