"""Procedural clips -> schema records (`genmo_jax.data.schema`) and shards.

Clip i of a run with seed S is drawn from `np.random.default_rng([S, i])` and named
"proc-S-iiiiii", so a run is reproducible and an interrupted one resumes clip by clip.
Dance clips carry music features computed from their synthetic waveform by the real music path
(`genmo_jax.data.music.music_features`, needs the `audio` extra).
"""

from __future__ import annotations

import numpy as np

from genmo_jax.data import schema
from genmo_jax.data.procedural import world

DATASET = "procedural"


def _music_features(waveform, rate):
    from genmo_jax.data import music
    return music.music_features(waveform, rate)


def clip_to_record(clip, name, betas=None, music_features=_music_features):
    """A generated clip (`world.generate_clip`) -> validated schema record.

    music_features: fn(waveform (N,), rate) -> (T, 35), used for dance clips; its output is
    cut or edge-padded to the clip's L frames.
    """
    num_frames = clip["transl"].shape[0]
    optional = dict(caption_text=clip["caption_text"], caption_window=clip["caption_window"])
    if "music" in clip:
        features = np.asarray(music_features(clip["music"], int(clip["music_rate"])), np.float32)
        if features.shape[0] < num_frames:
            features = np.concatenate([features, np.repeat(features[-1:], num_frames
                                                           - features.shape[0], 0)])
        optional["music_feat"] = features[:num_frames]
    return schema.make_record(
        source=DATASET, name=name, body_pose=clip["body_pose"],
        global_orient=clip["global_orient"], transl=clip["transl"],
        betas=_padded_betas(clip.get("betas") if betas is None else betas),
        joints_w=clip["joints_w"], **optional)


def _padded_betas(betas):
    out = np.zeros(schema.NUM_BETAS)
    if betas is not None:
        betas = np.asarray(betas, np.float64).reshape(-1)[:schema.NUM_BETAS]
        out[:betas.shape[0]] = betas
    return out


def clip_name(seed, index):
    return f"proc-{seed}-{index:06d}"


def generate_record(skeleton, seed, index, dance_prob=0.15, music_features=_music_features,
                    action_weights=None):
    """Record of clip `index` of the run with `seed` (deterministic); action_weights: see
    `world.generate_clip`."""
    clip = world.generate_clip(np.random.default_rng([seed, index]), skeleton, dance_prob,
                               action_weights)
    return clip_to_record(clip, clip_name(seed, index), music_features=music_features)
