"""The Grain training pipeline (SPEC A13): shards -> weighted mix -> batches -> simulated samples.

Per dataset named in `config.data.datasets`, a stream of *sample tickets* (dataset id, record
index, position in the stream):
    range(num_records) -> seed -> global shuffle -> repeat (reshuffled every epoch) -> tag
then `IterDataset.mix` of the named ticket streams by `config.data.weights` and `batch` of the
GLOBAL batch size (drop remainder). Every process builds the same global batch of tickets and
keeps its rows [p * B / P, (p + 1) * B / P) (`LocalSamples`), and only then reads and simulates
those records, with a generator seeded by (dataset seed, stream position). So process p's local
batch is exactly those rows of the single-process global batch of the same step: training does
not depend on the number of hosts, and no process simulates another's rows. Last,
`mp_prefetch` with `config.data.num_workers` worker processes (0 = in the calling process).
The iterator's `get_state()` / `set_state()` resume the exact sample sequence (the same
`num_workers` is needed; JAX_PRACTICES 2.4); the state is keyed by dataset name.

The per-sample work (speed-augmented crop, camera trajectory, 2D simulation, masks) is
`genmo_jax.data.simulate.make_training_sample(record, rng, simulation_config)`; its docstring
lists every key of a sample. The pipeline adds `caption_text` (MAX_CAPTIONS,) str (the record's
captions picked by `caption_id`, "" where -1) and `dataset` () int32 (index in
config.data.datasets). Simulation settings per dataset: `DATASET_RECIPES` (the release's), then
`config.data.simulation` (all datasets), then `config.data.dataset_simulation[name]`; the
length is always `config.data.window`.
"""

from __future__ import annotations

import zlib

import numpy as np

from genmo_jax.data import shards

MAX_CAPTIONS = 4
CAPTION_CHARS = 256
# The release's per-dataset augmentation (SPEC B 5.1): static cameras for HumanML3D and BEAT2,
# and no speed augmentation for HumanML3D.
DATASET_RECIPES = {
    "humanml3d": {"camera": "static", "speed_augmentation": False},
    "beat2": {"camera": "static"},
}


def simulation_config(data_config, name: str) -> dict:
    """The `simulate.SimulationConfig` fields used for dataset `name`."""
    merged = dict(DATASET_RECIPES.get(name, {}))
    merged.update(dict(data_config.get("simulation", None) or {}))
    per_dataset = data_config.get("dataset_simulation", None) or {}
    merged.update(dict(per_dataset.get(name, None) or {}))
    merged["length"] = int(data_config.window)
    return merged


class SampleTransform:
    """Picklable per-sample transform run in the grain workers: (record, rng) -> sample dict."""

    def __init__(self, data_config, name: str, dataset_id: int):
        from genmo_jax.data import simulate

        self.simulation = simulate.SimulationConfig.from_config(
            simulation_config(data_config, name))   # unknown keys fail here, at start-up
        self.dataset_id = dataset_id

    def __call__(self, record, rng: np.random.Generator) -> dict:
        from genmo_jax.data import simulate

        sample = simulate.make_training_sample(record, rng, self.simulation)
        texts = np.full(MAX_CAPTIONS, "", dtype=f"<U{CAPTION_CHARS}")
        ids = np.asarray(sample["caption_id"])
        for slot, index in enumerate(ids[:MAX_CAPTIONS]):
            if index >= 0:
                texts[slot] = str(record["caption_text"][index])[:CAPTION_CHARS]
        sample["caption_text"] = texts
        sample["dataset"] = np.int32(self.dataset_id)
        return sample


class _Ticket:
    """(position, record index) -> (dataset id, record index, position) int64 (3,)."""

    def __init__(self, dataset_id: int):
        self.dataset_id = dataset_id

    def __call__(self, position: int, record_index) -> np.ndarray:
        return np.array([self.dataset_id, int(record_index), position], np.int64)


class LocalSamples:
    """Global ticket batch (B, 3) -> this process's rows [p B / P, (p + 1) B / P), simulated.

    The generator of a sample is seeded by (dataset seed, position in the dataset's stream), so a
    sample does not depend on which process or worker makes it.
    """

    def __init__(self, data_config, sources: dict, seeds: dict, process_index: int,
                 process_count: int):
        self.names = list(sources)
        self.sources = [sources[n] for n in self.names]
        self.seeds = [seeds[n] for n in self.names]
        self.transforms = [SampleTransform(data_config, n, i) for i, n in enumerate(self.names)]
        self.process_index, self.process_count = process_index, process_count

    def __call__(self, tickets: np.ndarray) -> dict:
        tickets = np.asarray(tickets)
        rows = tickets.shape[0] // self.process_count
        mine = tickets[self.process_index * rows:(self.process_index + 1) * rows]
        samples = []
        for dataset_id, record_index, position in mine:
            rng = np.random.default_rng([self.seeds[dataset_id], int(position)])
            record = self.sources[dataset_id][int(record_index)]
            samples.append(self.transforms[dataset_id](record, rng))
        return {k: np.stack([s[k] for s in samples]) for k in samples[0]}


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
    to config.data.batch_size // process_count; the global batch is local_batch_size *
    process_count and this process yields its rows [p * local, (p + 1) * local) (module
    docstring). Iterate with `iter(ds)`; the iterator is checkpointable (`get_state` /
    `set_state`, or grain.checkpoint with Orbax).
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
    components, seeds = {}, {}
    for dataset_id, (name, source) in enumerate(sources.items()):
        # Seeded by name, not position: adding a dataset keeps the others' sequences.
        seeds[name] = (seed + zlib.crc32(name.encode())) % 2**31
        components[name] = (
            grain.MapDataset.range(len(source))
            .seed(seeds[name])
            .shuffle()
            .repeat()
            .map_with_index(_Ticket(dataset_id))
            .to_iter_dataset(read_options))
    weights = {name: float(data_config.weights[name]) for name in components}
    # Always a named mix, even of one dataset: the iterator state is then keyed by dataset name,
    # so a checkpoint restores into a recipe with more datasets or other weights (grain 0.2.15+).
    mixed = grain.IterDataset.mix(components, weights)
    global_batch = local_batch_size * process_count
    batched = (mixed.batch(global_batch, drop_remainder=True)
               .map(LocalSamples(data_config, sources, seeds, process_index, process_count)))
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
