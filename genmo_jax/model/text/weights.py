"""Reading Hugging Face weight folders (safetensors, single file or sharded) without torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import numpy as np


def read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"missing {path}")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _weight_files(folder: Path) -> list[Path]:
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(read_json(index)["weight_map"].values()))
        return [folder / name for name in shards]
    raise FileNotFoundError(f"no model.safetensors or model.safetensors.index.json in {folder}")


def read_safetensors(folder, keep: Callable[[str], bool] = lambda name: True) -> dict[str, np.ndarray]:
    """All tensors of a HF folder whose name passes `keep`, as float32 numpy arrays.

    bfloat16 tensors (numpy has no such dtype) are read through the flax framework and cast.
    """
    from safetensors import safe_open

    tensors: dict[str, np.ndarray] = {}
    for path in _weight_files(Path(folder)):
        if not path.is_file():
            raise FileNotFoundError(f"missing weight shard {path}")
        with safe_open(str(path), framework="numpy") as f:
            names = [n for n in f.keys() if keep(n)]
            for name in names:
                try:
                    tensors[name] = np.asarray(f.get_tensor(name), dtype=np.float32)
                except TypeError:   # bfloat16
                    with safe_open(str(path), framework="flax") as fj:
                        tensors[name] = np.asarray(fj.get_tensor(name).astype(np.float32))
    return tensors


def take(tensors: dict[str, np.ndarray], name: str, source) -> np.ndarray:
    """Removes and returns tensors[name] (or a clear error naming the checkpoint and the tensor).

    Removing keeps the peak host memory near one copy of the weights while they are restacked
    (t5-3b's encoder alone is 5.6 GB in float32).
    """
    if name not in tensors:
        raise ValueError(f"{source}: checkpoint has no tensor '{name}'")
    return tensors.pop(name)
