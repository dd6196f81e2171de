"""The Grain training pipeline (SPEC A13): shards -> per-sample transforms -> weighted mix -> batches.

Per dataset named in `config.data.datasets`:
    ShardSource(dir) -> seed -> global shuffle -> repeat (reshuffled every epoch)
    -> [process_index::process_count] -> random_map(sample transform) -> to_iter_dataset
then `IterDataset.mix` of the named components by `config.data.weights`, `batch` (drop
remainder; fixed shapes), and `mp_prefetch` with `config.data.num_workers` worker processes
(0 = transform in the calling process). The iterator's `get_state()` / `set_state()` resume
the exact sample sequence (the same `num_workers` is needed; JAX_PRACTICES 2.4).

Sample transform (`config.data.transform`):
- "simulate": `genmo_jax.data.simulate.make_training_sample(record, rng, config.data)`
  (speed augmentation, camera trajectory, 2D simulation, masks; the other half of SPEC B 5);
- "crop": `crop_sample` below: a random window of `config.data.window` frames, no simulation.
Both return the same fixed-shape dict (`crop_sample` documents it).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from genmo_jax.data import schema, shards

MAX_CAPTIONS = 4


def _pad_frames(array: np.ndarray, window: int, repeat_last: bool) -> np.ndarray:
    """Pads axis 0 to `window` frames: repeating the last frame (motion) or with zeros."""
    missing = window - array.shape[0]
    if missing <= 0:
        return array[:window]
    if repeat_last:
        return np.concatenate([array, np.repeat(array[-1:], missing, 0)], 0)
    return np.concatenate([array, np.zeros((missing,) + array.shape[1:], array.dtype)], 0)


def crop_sample(record: Mapping[str, np.ndarray], rng: np.random.Generator, window: int,
                dataset_id: int = 0, max_captions: int = MAX_CAPTIONS,
                with_audio: bool = True, with_image_features: bool = False) -> dict:
    """One training sample: a random `window`-frame crop of a record, fixed shapes (W = window).

    Returns float32 unless noted:
      body_pose (W, 63), global_orient (W, 3), transl (W, 3) world y-up metres, betas (10,),
      joints_w (W, 24, 3); motion frames past the clip end repeat its last frame (SPEC B 5);
      length () int32 valid frames; mask_valid (W,) bool; mask_world (W,) bool;
      K (W, 3, 3), R_w2c (W, 3, 3), t_w2c (W, 3), has_camera () bool (dataset camera; else
      zeros, the simulation makes one);
      kp2d (W, 17, 3), mask_kp2d (W,) bool; music_feat (W, 35), has_music () bool;
      audio (W * 600,), has_audio () bool (if with_audio); img_feat (W, 1024),
      mask_img_feat (W,) bool (if with_image_features);
      caption_text (max_captions,) str ("" = none), caption_window (max_captions, 2) int32
      frame windows inside the crop, num_captions () int32;
      flag_2d_only, flag_spv_incam_only, flag_invalid_contact () bool; dataset () int32.
    """
    length = schema.num_frames(record)
    start = int(rng.integers(0, length - window + 1)) if length > window else 0
    stop = min(start + window, length)
    valid = stop - start

    def frames(key, repeat_last=False, dtype=np.float32):
        return _pad_frames(np.asarray(record[key][start:stop], dtype), window, repeat_last)

    sample = {key: frames(key, repeat_last=True) for key in
              ("body_pose", "global_orient", "transl", "joints_w")}
    sample["betas"] = np.asarray(record["betas"], np.float32)
    sample["length"] = np.int32(valid)
    sample["mask_valid"] = np.arange(window) < valid
    sample["mask_world"] = frames("mask_world", dtype=bool)
    has_camera = "K" in record
    for key, shape in (("K", (3, 3)), ("R_w2c", (3, 3)), ("t_w2c", (3,))):
        sample[key] = frames(key, repeat_last=True) if has_camera else \
            np.zeros((window,) + shape, np.float32)
    sample["has_camera"] = np.bool_(has_camera)
    for key, mask_key, shape in (("kp2d", "mask_kp2d", (17, 3)),) + (
            (("img_feat", "mask_img_feat", (schema.IMAGE_FEATURE_DIM,)),)
            if with_image_features else ()):
        present = key in record
        sample[key] = frames(key) if present else np.zeros((window,) + shape, np.float32)
        sample[mask_key] = frames(mask_key, dtype=bool) if present else np.zeros(window, bool)
    has_music = "music_feat" in record
    sample["music_feat"] = frames("music_feat") if has_music else \
        np.zeros((window, schema.MUSIC_DIM), np.float32)
    sample["has_music"] = np.bool_(has_music)
    if with_audio:
        per_frame = schema.AUDIO_SAMPLES_PER_FRAME
        audio = np.zeros(window * per_frame, np.float32)
        if "audio" in record:
            clip = record["audio"][start * per_frame:stop * per_frame]
            audio[:clip.shape[0]] = clip
        sample["audio"] = audio
        sample["has_audio"] = np.bool_("audio" in record)
    texts = np.full(max_captions, "", dtype="<U256")
    windows = np.zeros((max_captions, 2), np.int32)
    if "caption_text" in record:
        clipped = np.clip(record["caption_window"] - start, 0, valid)
        keep = np.flatnonzero(clipped[:, 1] > clipped[:, 0])
        if keep.size > max_captions:
            keep = np.sort(rng.choice(keep, max_captions, replace=False))
        texts[:keep.size] = [str(t)[:256] for t in record["caption_text"][keep]]
        windows[:keep.size] = clipped[keep]
        sample["num_captions"] = np.int32(keep.size)
    else:
        sample["num_captions"] = np.int32(0)
    sample["caption_text"], sample["caption_window"] = texts, windows
    for flag in ("flag_2d_only", "flag_spv_incam_only", "flag_invalid_contact"):
        sample[flag] = np.bool_(record[flag])
    sample["dataset"] = np.int32(dataset_id)
    return sample


class SampleTransform:
    """Picklable per-sample transform run in the grain workers: record, rng -> sample dict."""

    def __init__(self, data_config, dataset_id: int):
        self.data_config = data_config
        self.dataset_id = dataset_id
        self.kind = data_config.get("transform", "crop")
        if self.kind == "simulate":
            make_training_sample()  # fail at start-up, not in a worker, if it is missing
        elif self.kind != "crop":
            raise ValueError(f"config.data.transform={self.kind!r}: expected 'simulate' or 'crop'")

    def __call__(self, record, rng: np.random.Generator) -> dict:
        if self.kind == "simulate":
            sample = make_training_sample()(record, rng, self.data_config)
            sample["dataset"] = np.int32(self.dataset_id)
            return sample
        return crop_sample(record, rng, int(self.data_config.window), self.dataset_id,
                           int(self.data_config.get("max_captions", MAX_CAPTIONS)),
                           bool(self.data_config.get("audio", True)),
                           bool(self.data_config.get("image_features", False)))


def make_training_sample():
    """`genmo_jax.data.simulate.make_training_sample`; ImportError says what is missing."""
    try:
        from genmo_jax.data import simulate
        return simulate.make_training_sample
    except (ImportError, AttributeError) as error:
        raise ImportError("config.data.transform='simulate' needs genmo_jax.data.simulate."
                          "make_training_sample(record, rng, config); use transform='crop' "
                          "without it") from error


def open_sources(data_config) -> dict[str, shards.ShardSource]:
    """Opens every configured shard directory; a missing one fails with its path."""
    names = list(data_config.datasets)
    if not names:
        raise ValueError("config.data.datasets is empty")
    dirs, weights = data_config.shard_dirs, data_config.weights
    sources = {}
    for name in names:
        if name not in dirs:
            raise ValueError(f"config.data.shard_dirs has no entry for dataset {name!r}")
        if name not in weights or float(weights[name]) <= 0:
            raise ValueError(f"config.data.weights[{name!r}] must be a positive number")
        try:
            source = shards.ShardSource(dirs[name])
        except FileNotFoundError as error:
            raise FileNotFoundError(f"config.data.shard_dirs[{name!r}]: {error}") from error
        if len(source) == 0:
            raise ValueError(f"config.data.shard_dirs[{name!r}] = {dirs[name]!r} holds no "
                             "records")
        sources[name] = source
    return sources


def make_dataset(config, local_batch_size: int | None = None, process_index: int | None = None,
                 process_count: int | None = None, seed: int | None = None):
    """The mixed, batched, prefetched training `grain.IterDataset` for this JAX process.

    config: the full ConfigDict (reads `config.data`, `config.seed`). local_batch_size defaults
    to config.data.batch_size // process_count. Iterate with `iter(ds)`; the iterator is
    checkpointable (`get_state` / `set_state`, or grain.checkpoint with Orbax).
    """
    import grain

    data_config = config.data
    if process_index is None or process_count is None:
        import jax
        process_index, process_count = jax.process_index(), jax.process_count()
    if local_batch_size is None:
        local_batch_size = int(data_config.batch_size) // process_count
    if local_batch_size < 1:
        raise ValueError(f"local batch size {local_batch_size} < 1 (config.data.batch_size="
                         f"{data_config.batch_size}, {process_count} processes)")
    seed = int(config.get("seed", 0) if seed is None else seed)
    sources = open_sources(data_config)
    read_options = grain.ReadOptions(num_threads=int(data_config.get("read_threads", 2)),
                                     prefetch_buffer_size=int(data_config.get("read_buffer", 16)))
    components = {}
    for dataset_id, (name, source) in enumerate(sources.items()):
        components[name] = (
            grain.MapDataset.source(source)
            .seed(seed + 1000 * dataset_id)
            .shuffle()
            .repeat()
            [process_index::process_count]
            .random_map(SampleTransform(data_config, dataset_id))
            .to_iter_dataset(read_options))
    weights = {name: float(data_config.weights[name]) for name in components}
    mixed = grain.IterDataset.mix(components, weights) if len(components) > 1 else \
        next(iter(components.values()))
    batched = mixed.batch(local_batch_size, drop_remainder=True)
    num_workers = int(data_config.get("num_workers", 0))
    if num_workers > 0:
        batched = batched.mp_prefetch(grain.MultiprocessingOptions(
            num_workers=num_workers,
            per_worker_buffer_size=int(data_config.get("per_worker_buffer_size", 2))))
    return batched


def make_iterator(config, local_batch_size: int | None = None, process_index: int | None = None,
                  process_count: int | None = None):
    """`iter(make_dataset(...))`: the checkpointable iterator the train loop consumes."""
    return iter(make_dataset(config, local_batch_size, process_index, process_count))
