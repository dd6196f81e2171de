"""The exported params folder (docs/CONVENTIONS.md "## Files") and flat views of model state.

A folder holds
  params.safetensors  every nnx.Param and nnx.BatchStat of the denoiser, under its dot-joined
                      path in the NNX tree (e.g. "blocks.0.attn.query.kernel"), float32;
  config.json         the full ml_collections ConfigDict (the model is rebuilt from `model`);
  stats.npz           normalisation statistics of the 151-d motion vector: mean (151,), std (151,).
`save_params(dir, model_or_state, config, stats)` writes it; `load_params(dir)` reads it back
into a Denoiser (no torch needed anywhere).
"""

import json
import os
from typing import NamedTuple

import jax
import numpy as np
from flax import nnx

PARAMS_FILE = "params.safetensors"
CONFIG_FILE = "config.json"
STATS_FILE = "stats.npz"
VARIABLE_TYPES = (nnx.Param, nnx.BatchStat)


def _join(path) -> str:
    return ".".join(str(p) for p in path)


def flat_variables(model_or_state) -> dict:
    """{dot-joined path: np.ndarray} of every Param and BatchStat.

    Accepts a module, an nnx.State (other variable types, e.g. RNG counters, are left out) or a
    nested pure dict of arrays (`nnx.to_pure_dict`, taken as is).
    """
    if isinstance(model_or_state, nnx.Module):
        state = nnx.state(model_or_state, VARIABLE_TYPES)
    elif isinstance(model_or_state, nnx.State):
        state = model_or_state.filter(VARIABLE_TYPES)
    elif isinstance(model_or_state, dict):
        out = {}

        def walk(node, prefix):
            for key, value in node.items():
                name = f"{prefix}{key}"
                if isinstance(value, dict):
                    walk(value, name + ".")
                else:
                    out[name] = np.asarray(value)
        walk(model_or_state, "")
        return out
    else:
        raise TypeError(f"expected an nnx.Module, nnx.State or dict, got {type(model_or_state)}")
    out = {}
    for path, var in state.flat_state():
        value = var.value if hasattr(var, "value") else var
        # abstract modules (nnx.eval_shape) keep their ShapeDtypeStructs
        out[_join(path)] = value if isinstance(value, jax.ShapeDtypeStruct) else np.asarray(value)
    return out


def _shape(x):
    return tuple(x.shape) if hasattr(x, "shape") else tuple(np.shape(x))


def assign_flat(model: nnx.Module, flat: dict, *, source: str = "params") -> None:
    """Write {dot-joined path: array} into `model` in place; names and shapes must match exactly.

    Raises ValueError listing missing names, unknown names and shape mismatches.
    """
    state = nnx.state(model, VARIABLE_TYPES)
    expected = {_join(p): v for p, v in state.flat_state()}
    missing = sorted(set(expected) - set(flat))
    unknown = sorted(set(flat) - set(expected))
    bad_shapes = [f"{k}: got {_shape(flat[k])}, model has {_shape(expected[k].value)}"
                  for k in sorted(set(flat) & set(expected))
                  if _shape(flat[k]) != _shape(expected[k].value)]
    problems = []
    if missing:
        problems.append(f"missing {len(missing)}: {missing}")
    if unknown:
        problems.append(f"unknown {len(unknown)}: {unknown}")
    if bad_shapes:
        problems.append(f"shape mismatch {len(bad_shapes)}: {bad_shapes}")
    if problems:
        raise ValueError(f"{source} do not fit the model: " + "; ".join(problems))
    pure = nnx.to_pure_dict(state)
    for name, value in flat.items():
        node = pure
        keys = [int(k) if k.isdigit() else k for k in name.split(".")]
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = np.asarray(value, dtype=node[keys[-1]].dtype)
    nnx.replace_by_pure_dict(state, pure)
    nnx.update(model, state)


def save_params(directory, model_or_state, config, stats) -> None:
    """Write the export folder.

    Args:
      directory: output folder (created).
      model_or_state: the Denoiser or its nnx.State (Param + BatchStat).
      config: the full ConfigDict (must have `model`).
      stats: mapping with "mean" (151,) and "std" (151,).
    """
    from safetensors.numpy import save_file
    if "model" not in config:
        raise ValueError("config has no `model` section; pass the full ConfigDict")
    mean, std = np.asarray(stats["mean"], np.float32), np.asarray(stats["std"], np.float32)
    if mean.shape != (151,) or std.shape != (151,):
        raise ValueError(f"stats mean/std must be (151,), got {mean.shape} and {std.shape}")
    os.makedirs(directory, exist_ok=True)
    tensors = {k: np.ascontiguousarray(v, dtype=np.float32)
               for k, v in flat_variables(model_or_state).items()}
    save_file(tensors, os.path.join(directory, PARAMS_FILE))
    with open(os.path.join(directory, CONFIG_FILE), "w") as f:
        f.write(config.to_json(indent=2))
    np.savez(os.path.join(directory, STATS_FILE), mean=mean, std=std)


class ExportedParams(NamedTuple):
    model: nnx.Module      # genmo_jax.model.denoiser.Denoiser with the loaded values
    config: object         # ml_collections.ConfigDict
    stats: dict            # {"mean": (151,), "std": (151,)} float32


def load_params(directory, *, seed: int = 0) -> ExportedParams:
    """Read an export folder into a Denoiser; raises FileNotFoundError naming a missing file."""
    import ml_collections
    from safetensors.numpy import load_file

    from genmo_jax.model.denoiser import Denoiser
    for name in (PARAMS_FILE, CONFIG_FILE, STATS_FILE):
        path = os.path.join(directory, name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"export folder {directory!r} lacks {name} ({path})")
    with open(os.path.join(directory, CONFIG_FILE)) as f:
        config = ml_collections.ConfigDict(json.load(f))
    if "model" not in config:
        raise ValueError(f"{os.path.join(directory, CONFIG_FILE)} has no `model` section")
    model = Denoiser(config.model, rngs=nnx.Rngs(seed))
    assign_flat(model, load_file(os.path.join(directory, PARAMS_FILE)),
                source=os.path.join(directory, PARAMS_FILE))
    with np.load(os.path.join(directory, STATS_FILE)) as z:
        stats = {"mean": z["mean"].astype(np.float32), "std": z["std"].astype(np.float32)}
    return ExportedParams(model, config, stats)
