"""`python -m genmo_jax.export --workdir DIR --out DIR`: a training run -> a self-contained params folder.

Takes the EMA parameters (and the BatchNorm statistics) of the latest (or `--step`) checkpoint
of a training workdir, whatever mesh it was trained on, and writes the export folder of
`genmo_jax.params_io` (params.safetensors + config.json + stats.npz), which
`genmo_jax.load_params(DIR)` reads on a machine with one device.

Normalisation statistics come from `--stats`, else `workdir/stats.npz`, else the `stats.npz`
beside the first shard folder the config names (`data.*.shards`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import ml_collections
import numpy as np


def _find_stats(workdir, config, explicit=None) -> str:
    candidates = [explicit] if explicit else []
    candidates.append(os.path.join(workdir, "stats.npz"))
    data = config.get("data", {}) if hasattr(config, "get") else {}
    for value in _walk_strings(data):
        candidates.append(os.path.join(value, "stats.npz"))
    for path in candidates:
        if path and os.path.isfile(path):
            return path
    raise FileNotFoundError(f"no normalisation statistics found (tried {', '.join(p for p in candidates if p)}); "
                            "pass --stats PATH")


def _walk_strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _walk_strings(v)
    elif hasattr(node, "items"):
        for _, v in node.items():
            yield from _walk_strings(v)


def restore_ema_model(workdir: str, step: int | None = None):
    """(model with EMA params on one device, config, step) from a training workdir."""
    from genmo_jax.train import loop, state as state_lib
    from genmo_jax.train.checkpoint import read_state

    workdir = os.path.abspath(workdir)
    config_path = os.path.join(workdir, "config.json")
    if not os.path.isfile(config_path):
        raise FileNotFoundError(f"{workdir} is not a training workdir: {config_path} is missing")
    with open(config_path, encoding="utf-8") as f:
        config = ml_collections.ConfigDict(json.load(f))
    step, state = read_state(os.path.join(workdir, "checkpoints"), step)
    task = loop.get_task(config.train.get("task", "genmo"))
    mdef, _, _ = state_lib.split_model(task.build_model(config))
    model = mdef.merge(state["ema"], state["rest"])
    return model, config, step


def export(workdir: str, out_dir: str, *, step: int | None = None, stats_path: str | None = None) -> str:
    from genmo_jax import params_io

    model, config, step = restore_ema_model(workdir, step)
    stats_file = _find_stats(workdir, config, stats_path)
    with np.load(stats_file) as z:
        stats = {"mean": z["mean"], "std": z["std"]}
    params_io.save_params(out_dir, model, config, stats)
    with open(os.path.join(out_dir, "export.json"), "w", encoding="utf-8") as f:
        json.dump({"workdir": os.path.abspath(workdir), "step": step, "stats": os.path.abspath(stats_file),
                   "body": config.get("body", {}).to_dict() if "body" in config else None,
                   "text_encoder": config.get("text", {}).get("encoder", None) if "text" in config else None},
                  f, indent=2)
    return out_dir


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmo_jax.export", description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", required=True, help="training workdir (config.json + checkpoints/)")
    parser.add_argument("--out", required=True, help="export folder to write")
    parser.add_argument("--step", type=int, help="checkpoint step (default: latest)")
    parser.add_argument("--stats", help="stats.npz to ship (default: found from the workdir/config)")
    args = parser.parse_args(argv)
    try:
        out = export(args.workdir, args.out, step=args.step, stats_path=args.stats)
    except (FileNotFoundError, ValueError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"exported {args.workdir} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
