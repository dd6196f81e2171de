"""The held-out clips of the procedural benchmark: a fixed count drawn from seeds no training
run uses, one function per task. Everything is a pure function of (seed, index), so two runs
score the same motions.

Seeds (`python -m genmo_jax.data.procedural --seed S` draws clip i from `default_rng([S, i])`):
the quickstart trains on seed 0, the learning test on 11 (held out 12345), the retrieval model
(`retrieval.py`) on `RETRIEVAL_SEED`; the benchmark's clips come from `HELDOUT_SEED` and, for the
"real vs real" reference rows, `REFERENCE_SEED`. Each task uses its own sub-stream
`default_rng([seed, TASK_STREAM[task], i])`, so a clip of one task is never a clip of another.

- text: one-action clips (one caption, "a person ..."), labels cycling through
  `TEXT_LABELS` (balanced, unlike the training mix) so each R-precision group of 32 holds few
  same-label pairs; cut to at most `max_frames`.
- estimation: everyday clips (2-5 actions) through the training simulation
  (`data.simulate.make_training_sample`: random camera trajectory, WHAM-style 2D noise and
  occlusions), one `length`-frame crop without speed augmentation; no image features.
- dance: dance clips with their synthetic music, the music features of the real music path
  (`data.music`, needs librosa) and the exact beat frames the motion follows.
- inbetween: everyday clips cut to `length` frames (world SMPL params).
"""

from __future__ import annotations

import numpy as np

from genmo_jax.data import simulate
from genmo_jax.data.procedural import dance, records, world
from genmo_jax.data.procedural import skeleton as sk

HELDOUT_SEED = 20250917
REFERENCE_SEED = 20250918
RETRIEVAL_SEED = 20250919
TASK_STREAM = {"text": 1, "estimation": 2, "dance": 3, "inbetween": 4}
# every everyday action that can open a clip ("stand_up" needs a seated body first)
TEXT_LABELS = tuple(world.ACTION_WEIGHTS)


def _rng(seed, task, index):
    return np.random.default_rng([seed, TASK_STREAM[task], index])


def _shape(rng, skeleton):
    """(RestSkeleton, betas (10,)) for one clip: a random body of a ShapeSpace, as `world`."""
    betas = np.zeros(10)
    if isinstance(skeleton, sk.ShapeSpace):
        drawn = np.clip(rng.standard_normal(skeleton.num_betas), -2.5, 2.5)
        betas[:min(10, drawn.shape[0])] = drawn[:10]
        return skeleton.skeleton(drawn), betas
    return skeleton, betas


def _world_params(clip, betas, frames=None):
    frames = slice(None) if frames is None else frames
    return {"body_pose": np.asarray(clip["body_pose"], np.float32)[frames],
            "global_orient": np.asarray(clip["global_orient"], np.float32)[frames],
            "transl": np.asarray(clip["transl"], np.float32)[frames],
            "betas": np.asarray(betas, np.float32)}


def text_clips(skeleton, count, seed=HELDOUT_SEED, max_frames=120):
    """`count` one-action clips: list of dicts with `caption` str, `label` str and world params
    `body_pose` (L, 63), `global_orient` (L, 3) rad, `transl` (L, 3) m, `betas` (10,), L <= max_frames."""
    out = []
    for index in range(count):
        rng = _rng(seed, "text", index)
        body, betas = _shape(rng, skeleton)
        label = TEXT_LABELS[index % len(TEXT_LABELS)]
        segment = world.make_segment(body, rng, world.initial_state(body, rng), label, first=True)
        clip = world.finish_clip(body, [segment])
        item = _world_params(clip, betas, slice(0, max_frames))
        item.update(caption=str(clip["caption_text"][0]), label=label)
        out.append(item)
    return out


def estimation_samples(skeleton, count, seed=HELDOUT_SEED, length=120):
    """`count` simulated observations of everyday clips, stacked: the keys of
    `simulate.make_training_sample` with a leading (count,) axis (L = length frames)."""
    config = simulate.SimulationConfig(length=length, speed_augmentation=False)
    samples = []
    for index in range(count):
        rng = _rng(seed, "estimation", index)
        clip = world.generate_clip(rng, skeleton, dance_prob=0.0)
        record = records.clip_to_record(clip, records.clip_name(seed, index))
        # estimation from video: no captions (they would also switch the camera condition off)
        record = {k: v for k, v in record.items() if not k.startswith("caption_")}
        samples.append(simulate.make_training_sample(record, rng, config))
    return {k: np.stack([s[k] for s in samples]) for k in samples[0]}


def dance_clips(skeleton, count, seed=HELDOUT_SEED, music_features=None, max_frames=0):
    """`count` dances: dicts with world params (L frames), `music` (L, 35) features, `beats`
    (B,) float frames of the music's beats (the ones the motion follows), `caption` str.
    max_frames > 0 cuts every dance (and its beats) to its first max_frames frames."""
    if music_features is None:
        from genmo_jax.data import music as music_lib
        music_features = music_lib.music_features
    out = []
    for index in range(count):
        rng = _rng(seed, "dance", index)
        body, betas = _shape(rng, skeleton)
        clip = dance.generate_dance_clip(rng, body)
        record = records.clip_to_record(clip, records.clip_name(seed, index), betas=betas,
                                        music_features=music_features)
        frames = slice(0, max_frames) if max_frames > 0 else slice(None)
        item = _world_params(clip, betas, frames)
        beats = np.asarray(clip["beat_frames"], np.float64)
        item.update(music=np.asarray(record["music_feat"], np.float32)[frames],
                    beats=beats[beats < len(item["transl"])] if max_frames > 0 else beats,
                    caption=str(clip["caption_text"][0]))
        out.append(item)
    return out


def inbetween_clips(skeleton, count, seed=HELDOUT_SEED, length=120):
    """`count` everyday clips of at least `length` frames, cut to exactly `length` (world params)."""
    out, index = [], 0
    while len(out) < count:
        rng = _rng(seed, "inbetween", index)
        index += 1
        body, betas = _shape(rng, skeleton)
        clip = world.generate_clip(rng, body, dance_prob=0.0)
        if clip["transl"].shape[0] >= length:
            out.append(_world_params(clip, betas, slice(0, length)))
    return out
