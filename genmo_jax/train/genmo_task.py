"""The ``genmo`` training task: denoiser + Grain pipeline + dual-mode objective, for the loop.

``setup(config)`` loads what the objective closes over (body model, normalisation statistics,
noise schedule, loss weights); ``make_iterator`` wraps the data pipeline's iterator in
``HostBatches``, which turns caption strings into text-encoder states on the host (with an
in-memory cache: captions repeat) and keeps only the arrays the step reads.
"""

from __future__ import annotations

import json
import os

import numpy as np
from flax import nnx

from genmo_jax.train import objective

# Fields of a pipeline sample the objective reads (everything else stays on the host).
BATCH_KEYS = ("length", "body_pose", "betas", "global_orient_c", "transl_c", "global_orient_w",
              "transl_w", "joints_w", "R_c2gv", "K", "bbox_xys", "kp2d", "obs", "f_cliffcam",
              "cam_angvel", "img_feat", "music_feat", "audio", "has_2d_mask", "has_img_mask",
              "has_cam_mask", "has_music_mask", "has_audio_mask", "has_text", "flag_2d_only",
              "flag_spv_incam_only", "flag_invalid_contact")
# Shard datasets (index.json "dataset": the converter) that never hold 2D-only records. A mix of
# only these lets the objective run both modes as one pass (objective.ObjectiveSpec.twod_rows).
THREE_D_DATASETS = ("aistpp", "amass", "beat2", "bedlam", "bvh", "h36m", "humanml3d", "3dpw",
                    "procedural")


class HostBatches:
    """Checkpointable iterator: pipeline batches -> numpy batches of ``BATCH_KEYS`` (+ text).

    text (B, K, T, D) float32 states of the K caption slots (zeros for empty slots) and
    text_windows (B, K, 2) int32 frame windows ([0, 0] for empty slots, so they touch no frame).
    """

    def __init__(self, inner, text_encoder=None, text_len: int = 50, text_dim: int = 0,
                 keys: tuple = BATCH_KEYS, allow_2d_only: bool = True):
        self.inner = inner
        self.keys = tuple(keys)
        self.allow_2d_only = allow_2d_only
        self.text_encoder = text_encoder
        self.text_len, self.text_dim = text_len, text_dim
        self._cache: dict[str, np.ndarray] = {}

    def __iter__(self):
        return self

    def _embed(self, captions: np.ndarray) -> np.ndarray:
        flat = [str(c) for c in captions.reshape(-1)]
        todo = sorted({c for c in flat if c and c not in self._cache})
        if todo:
            # Chunks of 8: after the first batches only a few captions per batch are new, and
            # a 32-row chunk would run the encoder on ~30 padding captions.
            states, mask = self.text_encoder.encode(todo, batch_size=8)
            for c, s, m in zip(todo, np.asarray(states), np.asarray(mask)):
                self._cache[c] = (s * m[:, None]).astype(np.float32)[: self.text_len]
        zero = np.zeros((self.text_len, self.text_dim), np.float32)
        out = np.stack([self._cache.get(c, zero) if c else zero for c in flat])
        return out.reshape(captions.shape + out.shape[1:])

    def __next__(self) -> dict:
        sample = next(self.inner)
        batch = {k: np.asarray(sample[k]) for k in self.keys}
        if not self.allow_2d_only and np.any(batch["flag_2d_only"]):
            flagged = np.asarray(batch["flag_2d_only"], bool)
            ids = sorted({int(i) for i in np.asarray(sample["dataset"])[flagged]}) \
                if "dataset" in sample else []
            raise ValueError(
                f"a 2D-only sample came from config.data.datasets[{ids}], whose shards are of a "
                f"3D-only kind ({THREE_D_DATASETS}): the one-pass objective cannot train it "
                "(the estimation-guided 2D path needs the estimation output first)")
        return self._with_text(batch, sample)

    def _with_text(self, batch: dict, sample: dict) -> dict:
        if self.text_encoder is not None:
            captions = np.asarray(sample["caption_text"])
            batch["text"] = self._embed(captions)
            present = np.vectorize(bool)(captions)
            batch["text_windows"] = np.where(present[..., None],
                                             np.asarray(sample["caption_window"]),
                                             0).astype(np.int32)
        return batch

    # grain's Orbax handler stores a non-DatasetIterator's state as bytes
    def get_state(self) -> bytes:
        return json.dumps(self.inner.get_state()).encode()

    def set_state(self, state: bytes) -> None:
        self.inner.set_state(json.loads(state.decode()))

    def start_prefetch(self) -> None:
        start = getattr(self.inner, "start_prefetch", None)
        if start is not None:
            start()

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()


def stats_path(config) -> str:
    """``data.stats`` if set, else ``stats.npz`` beside the first dataset's shards."""
    path = str(config.data.get("stats", "") or "")
    if not path:
        first = list(config.data.datasets)[0]
        path = os.path.join(str(config.data.shard_dirs[first]), "stats.npz")
    return path


class GenmoTask:
    """The loop's task for ``train.task = "genmo"``."""

    def __init__(self):
        self.spec = None
        self.config = None
        self._eval_batch = None
        self._eval_fn = None

    def setup(self, config) -> None:
        from genmo_jax.body import select
        from genmo_jax.diffusion import schedule
        from genmo_jax.motion import normalization

        path = stats_path(config)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"normalisation statistics {path} not found (data.stats); compute them with "
                f"python -m genmo_jax.data.stats --shards DIR")
        body = select.body_model_from_config(config.body)
        if body.sparse_vertex_ids is None:
            raise ValueError(f"body.model={config.body.model!r} has no 'sparse_vertex_ids' "
                             "(needed by the vertex losses)")
        tc = config.train
        self.config = config
        # One-pass modes (opt-in, train.one_pass_modes): ~30 % less compile time but ~5-10 %
        # slower steps on CPU (benchmarks/RESULTS.md, "Train step"), and only for mixes of
        # 3D-only datasets.
        one_pass = bool(tc.get("one_pass_modes", False)) and all(
            _dataset_kind(config, name) in THREE_D_DATASETS for name in config.data.datasets)
        twod_rows = not one_pass
        self.spec = objective.ObjectiveSpec(
            body=body,
            stats=normalization.load_stats(path, dim=151),
            noise=schedule.cosine_schedule(int(config.diffusion.num_timesteps)),
            weights={k: float(v) for k, v in config.loss.items()},
            modes=tuple(tc.modes), mode_selection=str(tc.mode_selection),
            text_drop_prob=float(tc.text_drop_prob), music_drop_prob=float(tc.music_drop_prob),
            audio_drop_prob=float(tc.audio_drop_prob),
            clip_std=bool(config.model.get("clip_std", True)),
            velocity_convention=str(config.model.get("velocity_convention", "gvhmr")),
            twod_rows=twod_rows)

    def evaluate(self, model, step: int) -> dict:
        """Estimation-mode camera-frame MPJPE (root-relative, mm) on a fixed batch of the
        training mixture drawn with another seed (other crops, cameras and 2D noise), and the
        same figure for the mean pose of the statistics (a model that ignores its input)."""
        import jax
        import jax.numpy as jnp

        if self._eval_batch is None:
            from genmo_jax.data import pipeline
            ds = pipeline.make_dataset(self.config, int(self.config.data.batch_size), 0, 1,
                                       seed=int(self.config.seed) + 7919)
            it = HostBatches(iter(ds), None)
            self._eval_batch = {k: jnp.asarray(v) for k, v in next(it).items()}
            it.close()
        graphdef, state = nnx.split(model)
        if self._eval_fn is None:
            self._eval_fn = jax.jit(lambda st, b: objective.estimation_mpjpe(
                nnx.merge(graphdef, st), b, self.spec))
        mpjpe, baseline = self._eval_fn(state, self._eval_batch)
        return {"eval/estimation_mpjpe_mm": float(mpjpe),
                "eval/mean_pose_mpjpe_mm": float(baseline)}

    def build_model(self, config):
        from genmo_jax.model.denoiser import Denoiser
        return Denoiser(config.model, rngs=nnx.Rngs(params=int(config.seed),
                                                    dropout=int(config.seed) + 1))

    def loss_fn(self, model, batch, key):
        return objective.genmo_loss(model, batch, key, self.spec)

    def make_iterator(self, config, local_batch_size, process_index, process_count):
        from genmo_jax.data import pipeline
        inner = pipeline.make_iterator(config, local_batch_size, process_index, process_count)
        encoder = None
        if bool(config.model.get("text_blocks", False)):
            from genmo_jax.model.text import load_text_encoder
            encoder = load_text_encoder(config.text)
        return HostBatches(inner, encoder, int(config.model.get("max_text_len", 50)),
                           int(config.model.get("text_dim", 0)), batch_keys(config),
                           allow_2d_only=self.spec is None or self.spec.twod_rows)


def _dataset_kind(config, name: str) -> str:
    """The converter that wrote dataset ``name``'s shards (index.json "dataset"); "" if the
    index cannot be read (the pipeline reports that with the path when it starts)."""
    from genmo_jax.data import shards
    try:
        return str(shards.read_index(str(config.data.shard_dirs[name]))["dataset"])
    except (FileNotFoundError, KeyError, ValueError, OSError):
        return ""


def batch_keys(config) -> tuple:
    """``BATCH_KEYS`` without the raw waveform when the model has no audio encoder: (B, L * 600)
    float32 per step that nothing would read."""
    if "encoded_audio" in tuple(config.model.get("conditions", ())):
        return BATCH_KEYS
    return tuple(k for k in BATCH_KEYS if k != "audio")
