"""Random clips of the procedural motion world: a sequence of segments, solved to SMPL params.

`generate_clip(rng, skeleton)` draws an everyday clip (2-5 actions chained with transitions) or,
with probability `dance_prob`, a dance clip with beat-synchronised synthetic music. Everything
is drawn from the one `np.random.Generator`, so a clip is a pure function of its seed.
"""

from __future__ import annotations

import numpy as np

from genmo_jax.data.procedural import dance as dn
from genmo_jax.data.procedural import motions as mo
from genmo_jax.data.procedural import plan as pl
from genmo_jax.data.procedural import skeleton as sk
from genmo_jax.data.procedural import solve as sv

# label -> relative frequency of everyday actions
ACTION_WEIGHTS = {
    "walk": 6.0, "walk_curve_left": 2.0, "walk_curve_right": 2.0, "jog": 2.0,
    "jog_curve_left": 0.7, "jog_curve_right": 0.7, "run": 1.5, "walk_backward": 1.2,
    "sidestep_left": 1.0, "sidestep_right": 1.0, "turn_left": 1.5, "turn_right": 1.5,
    "turn_around_left": 0.6, "turn_around_right": 0.6, "stand": 1.0, "jump": 1.0,
    "jump_forward": 1.0, "squat": 1.0, "wave_left": 0.8, "wave_right": 0.8, "kick_left": 0.8,
    "kick_right": 0.8, "raise_arms": 1.0, "sit_down": 1.0,
}
# Every everyday action equally often: a world where the rare actions (jump, turns, standing)
# are not drowned by walking, for short text-to-motion training (tests/test_train_learns.py).
BALANCED_ACTION_WEIGHTS = {label: 1.0 for label in ACTION_WEIGHTS}


def make_segment(skeleton, rng, state, label, first):
    """One segment of `label` starting from `state`."""
    if state.seated and label != "stand_up":
        raise ValueError(f"a seated body can only stand up, not {label!r}")
    if label == "stand":
        return mo.stand(skeleton, rng, state, first)
    if label in ("jump", "jump_forward"):
        distance = rng.uniform(0.3, 0.7) if label == "jump_forward" else 0.0
        return mo.jump(skeleton, rng, state, first, distance)
    if label == "squat":
        return mo.squat(skeleton, rng, state, first)
    if label in ("wave_left", "wave_right"):
        return mo.wave(skeleton, rng, state, first, side=0 if label == "wave_left" else 1)
    if label in ("kick_left", "kick_right"):
        return mo.kick(skeleton, rng, state, first, side=0 if label == "kick_left" else 1)
    if label == "raise_arms":
        return mo.raise_arms(skeleton, rng, state, first)
    if label == "sit_down":
        return mo.sit_down(skeleton, rng, state, first)
    if label == "stand_up":
        return mo.sit_down(skeleton, rng, state, first, reverse=True)
    return mo.sample_locomotion(skeleton, rng, state, first, label)


def initial_state(skeleton, rng) -> pl.State:
    heading = rng.uniform(-np.pi, np.pi)
    root = rng.uniform(-1.0, 1.0, 2)
    ankle, foot_yaw = pl.stance_feet(skeleton, root, heading, mo.STANCE_HALF_WIDTH)
    return pl.State(root_xz=root, heading=heading, ankle=ankle, foot_yaw=foot_yaw)


def _checked_weights(action_weights):
    if action_weights is None:
        return ACTION_WEIGHTS
    unknown = sorted(set(action_weights) - set(ACTION_WEIGHTS))
    if unknown or not action_weights:
        raise ValueError(f"action_weights: unknown or no labels {unknown}; expected a subset of "
                         f"{tuple(ACTION_WEIGHTS)}")
    if any(not np.isfinite(w) or w < 0 for w in action_weights.values()) \
            or sum(action_weights.values()) <= 0:
        raise ValueError(f"action_weights must be finite, >= 0 and not all 0: {action_weights}")
    return action_weights


def sample_labels(rng, num_segments, action_weights=None):
    """A plausible action sequence: sitting down is followed by standing up (or ends the clip).

    action_weights: {label: relative frequency} (default `ACTION_WEIGHTS`)."""
    action_weights = _checked_weights(action_weights)
    names = list(action_weights)
    weights = np.array([action_weights[n] for n in names], np.float64)
    labels = []
    while len(labels) < num_segments:
        if labels and labels[-1] == "sit_down":
            labels.append("stand_up")
            continue
        label = names[rng.choice(len(names), p=weights / weights.sum())]
        if labels and label == labels[-1] and label not in ("walk",):
            continue
        labels.append(label)
    return labels


def generate_clip(rng: np.random.Generator, skeleton, dance_prob: float = 0.15,
                  action_weights=None):
    """One clip as a dict of numpy arrays (float64 until stored).

    skeleton: a `RestSkeleton` (fixed body) or a `ShapeSpace` (a random body shape per clip,
    returned as `betas` (S,)). action_weights: relative frequencies of the everyday actions
    (default `ACTION_WEIGHTS`; `BALANCED_ACTION_WEIGHTS` = all equal).

    body_pose (L, 63), global_orient (L, 3), transl (L, 3): world SMPL params (y-up, metres);
    joints_w (L, 24, 3); contact (L, 4) bool planted [L_ankle, L_foot, R_ankle, R_foot];
    caption_text (S,) str; caption_window (S, 2) int [start, end) frames; labels (S,) str;
    music (N,) float32 waveform and music_rate (Hz), beat_frames (B,) for dance clips only;
    betas (S,) when `skeleton` is a ShapeSpace.
    """
    betas = None
    if isinstance(skeleton, sk.ShapeSpace):
        # a body shape per clip: betas ~ N(0, 1) (SMPL-like unit-variance shape space)
        betas = np.clip(rng.standard_normal(skeleton.num_betas), -2.5, 2.5)
        skeleton = skeleton.skeleton(betas)
    action_weights = _checked_weights(action_weights)   # a bad argument fails on every clip
    clip = dn.generate_dance_clip(rng, skeleton) if rng.random() < dance_prob else \
        _everyday_clip(rng, skeleton, action_weights)
    if betas is not None:
        clip["betas"] = betas
    return clip


def _everyday_clip(rng, skeleton, action_weights=None):
    state = initial_state(skeleton, rng)
    segments = []
    for index, label in enumerate(sample_labels(rng, int(rng.integers(2, 6)), action_weights)):
        segment = make_segment(skeleton, rng, state, label, first=index == 0)
        segments.append(segment)
        state = segment.end
    return finish_clip(skeleton, segments)


def finish_clip(skeleton, segments, **extra):
    """Solves segments and attaches the caption windows."""
    solved = sv.solve(skeleton, segments)
    starts = np.concatenate([[0], solved.pop("boundaries")]).astype(np.int32)
    ends = np.concatenate([starts[1:], [solved["transl"].shape[0]]]).astype(np.int32)
    solved.update(caption_text=np.array([s.caption for s in segments]),
                  caption_window=np.stack([starts, ends], axis=-1),
                  labels=np.array([s.label for s in segments]), **extra)
    return solved
