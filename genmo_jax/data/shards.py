"""ArrayRecord shards of schema records: an atomic, resumable writer and a validating reader.

On disk, one directory per dataset:
    <dir>/index.json                 the shards a reader may open (written last, atomically)
    <dir>/<dataset>-00000.array_record, ...   one `np.savez` record per entry, group_size:1
    <dir>/stats.npz                  normalisation statistics (`stats.py`), optional

index.json = {"schema_version": 1, "dataset": str, "shards": [{"file", "num_records",
"names": [...], "num_frames": [...]}, ...]}. A shard is written to a temporary name, closed,
renamed, and only then listed in the index, so an interrupted conversion never leaves a shard a
reader would accept; the writer's `done_names` lets a converter skip finished clips on re-run.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from genmo_jax.data import schema

INDEX_FILE = "index.json"


def _array_record_module():
    from array_record.python import array_record_module
    return array_record_module


def read_index(directory: str | os.PathLike) -> dict:
    """Loads `<directory>/index.json`; FileNotFoundError / ValueError name the path."""
    path = Path(directory) / INDEX_FILE
    if not Path(directory).is_dir():
        raise FileNotFoundError(f"shard directory {str(directory)!r} does not exist")
    if not path.is_file():
        raise FileNotFoundError(f"{str(path)!r} missing: {str(directory)!r} holds no converted "
                                "shards (run python -m genmo_jax.data.convert)")
    try:
        index = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ValueError(f"{str(path)!r} is not valid JSON ({error})") from error
    if index.get("schema_version") != schema.SCHEMA_VERSION:
        raise ValueError(f"{str(path)!r}: schema_version {index.get('schema_version')}, this code "
                         f"reads {schema.SCHEMA_VERSION}; re-run the converter")
    return index


def _write_json_atomic(path: Path, content: dict) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    temporary.write_text(json.dumps(content, indent=1))
    os.replace(temporary, path)


class ShardWriter:
    """Writes records of one dataset into `out_dir`, `records_per_shard` per shard.

    Re-opening a directory continues it: `done_names` lists the clips already stored, new
    shards get the next numbers, and leftovers of an interrupted run are ignored (then replaced).
    Use as a context manager, or call `close()` to write the last partial shard.
    """

    def __init__(self, out_dir: str | os.PathLike, dataset: str, records_per_shard: int = 64):
        if records_per_shard < 1:
            raise ValueError(f"records_per_shard must be >= 1, got {records_per_shard}")
        self.out_dir = Path(out_dir)
        self.dataset = dataset
        self.records_per_shard = records_per_shard
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if (self.out_dir / INDEX_FILE).is_file():
            self.index = read_index(self.out_dir)
            if self.index["dataset"] != dataset:
                raise ValueError(f"{str(self.out_dir)!r} holds dataset "
                                 f"{self.index['dataset']!r}, not {dataset!r}")
        else:
            self.index = {"schema_version": schema.SCHEMA_VERSION, "dataset": dataset,
                          "shards": []}
        for stale in self.out_dir.glob(".*.tmp-*"):
            stale.unlink()
        self.done_names = {n for s in self.index["shards"] for n in s["names"]}
        self._pending: list[tuple[str, int, bytes]] = []

    def add(self, record: Mapping[str, np.ndarray]) -> None:
        """Validates and queues one record; writes a shard when enough are queued."""
        name = str(record["name"])
        length = schema.validate_record(record, where=f"{self.dataset} record {name!r}")
        if name in self.done_names or any(name == p[0] for p in self._pending):
            raise ValueError(f"{self.dataset}: clip name {name!r} written twice")
        self._pending.append((name, length, schema.encode_record(record)))
        if len(self._pending) >= self.records_per_shard:
            self.flush()

    def flush(self) -> None:
        """Writes the queued records as one shard (temp file, rename, then index update)."""
        if not self._pending:
            return
        file_name = f"{self.dataset}-{len(self.index['shards']):05d}.array_record"
        final = self.out_dir / file_name
        temporary = self.out_dir / f".{file_name}.tmp-{os.getpid()}"
        writer = _array_record_module().ArrayRecordWriter(str(temporary), "group_size:1")
        for _, _, data in self._pending:
            writer.write(data)
        writer.close()
        os.replace(temporary, final)
        self.index["shards"].append({
            "file": file_name, "num_records": len(self._pending),
            "names": [p[0] for p in self._pending], "num_frames": [p[1] for p in self._pending]})
        _write_json_atomic(self.out_dir / INDEX_FILE, self.index)
        self.done_names.update(p[0] for p in self._pending)
        self._pending = []

    def close(self) -> None:
        self.flush()
        if not (self.out_dir / INDEX_FILE).is_file():  # an empty dataset still gets an index
            _write_json_atomic(self.out_dir / INDEX_FILE, self.index)

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        # On error the queued records are dropped: only whole shards are ever listed.


def write_records(out_dir: str | os.PathLike, dataset: str,
                  records: Iterable[Mapping[str, np.ndarray]],
                  records_per_shard: int = 64) -> None:
    """Writes all `records` into a fresh or continued shard directory."""
    with ShardWriter(out_dir, dataset, records_per_shard) as writer:
        for record in records:
            writer.add(record)


class ShardSource:
    """Random-access source over one shard directory: `len()`, `src[i]` -> validated record.

    Picklable (grain worker processes); the ArrayRecord readers open lazily in each process.
    Errors name the shard file, the record index inside it and the field.
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.index = read_index(self.directory)
        self.paths = [str(self.directory / s["file"]) for s in self.index["shards"]]
        for path, shard in zip(self.paths, self.index["shards"]):
            if not Path(path).is_file():
                raise FileNotFoundError(f"shard {path!r} listed in the index is missing")
        counts = [s["num_records"] for s in self.index["shards"]]
        self._starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.num_frames = np.asarray([n for s in self.index["shards"] for n in s["num_frames"]],
                                     np.int64)
        self.names = [n for s in self.index["shards"] for n in s["names"]]
        self._readers = None
        self._lock = threading.Lock()   # grain reads from several threads

    @property
    def dataset(self) -> str:
        return self.index["dataset"]

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_readers"] = None
        del state["_lock"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _reader(self, shard: int):
        if self._readers is None:
            self._readers = [None] * len(self.paths)
        if self._readers[shard] is None:
            module = _array_record_module()
            reader = module.ArrayRecordReader(self.paths[shard])
            expected = self.index["shards"][shard]["num_records"]
            if reader.num_records() != expected:
                raise ValueError(f"shard {self.paths[shard]!r} holds {reader.num_records()} "
                                 f"records, the index says {expected}")
            self._readers[shard] = reader
        return self._readers[shard]

    def locate(self, index: int) -> tuple[int, int]:
        """Global record index -> (shard number, index inside that shard)."""
        if not 0 <= index < len(self):
            raise IndexError(f"record {index} out of range for {len(self)} records in "
                             f"{str(self.directory)!r}")
        shard = int(np.searchsorted(self._starts, index, side="right") - 1)
        return shard, int(index - self._starts[shard])

    def read_bytes(self, index: int) -> bytes:
        shard, local = self.locate(int(index))
        with self._lock:   # reader creation and reads are serialised (reads take < 1 ms)
            return self._reader(shard).read([local])[0]

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        shard, local = self.locate(int(index))
        data = self.read_bytes(index)
        return schema.decode_record(data, where=f"shard {self.paths[shard]!r} record {local}")

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]
