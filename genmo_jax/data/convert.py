"""`python -m genmo_jax.data.convert --dataset NAME --src DIR --out DIR [--body PATH]`.

Reads one dataset in its official raw layout (`genmo_jax/data/converters/<name>.py` documents
each) and writes schema records into ArrayRecord shards (`shards.py`). Shards are written
atomically; re-running the same command skips the clips already stored (resume).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from tqdm import tqdm

from genmo_jax.data import shards
from genmo_jax.data.converters import common

CONVERTERS = ("amass", "humanml3d", "aistpp", "motionx", "bvh", "3dpw", "beat2", "h36m",
              "bedlam")
_MODULES = {"3dpw": "threedpw"}   # module names cannot start with a digit


def converter_module(dataset: str):
    if dataset not in CONVERTERS:
        raise ValueError(f"--dataset {dataset!r} unknown; choose from {', '.join(CONVERTERS)}")
    return importlib.import_module(
        f"genmo_jax.data.converters.{_MODULES.get(dataset, dataset)}")


def convert(dataset: str, src: str, out: str, rest_joints_fn=None, body: str | None = None,
            records_per_shard: int = 64, progress: bool = True, **options) -> dict:
    """Converts `src` into shards under `out`; returns counts {written, skipped, resumed}.

    rest_joints_fn: (betas (10,), gender) -> (24, 3) rest joints; default from `body`
    (an SMPL-family file) or the built-in open body.
    """
    module = converter_module(dataset)
    if not Path(src).is_dir():
        raise FileNotFoundError(f"--src {src!r} is not a directory")
    if rest_joints_fn is None:
        rest_joints_fn = common.default_rest_joints(body)
    todo = module.items(src, **options)
    counts = {"written": 0, "skipped": 0, "resumed": 0}
    with shards.ShardWriter(out, module.DATASET, records_per_shard) as writer:
        bar = tqdm(todo, desc=f"convert {dataset}", unit="clip", disable=not progress)
        for name, item in bar:
            if name in writer.done_names:
                counts["resumed"] += 1
                continue
            record = module.convert_item(name, item, rest_joints_fn=rest_joints_fn, **options)
            if record is None:
                counts["skipped"] += 1
            else:
                writer.add(record)
                counts["written"] += 1
            bar.set_postfix(counts)
    return counts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmo_jax.data.convert",
                                     description="Converts one dataset in its official raw "
                                     "layout into ArrayRecord shards of schema records "
                                     "(atomic shards; re-running resumes).")
    parser.add_argument("--dataset", required=True, choices=CONVERTERS)
    parser.add_argument("--src", required=True, help="dataset root in its official layout")
    parser.add_argument("--out", required=True, help="output shard directory")
    parser.add_argument("--body", default=None,
                        help="SMPL/SMPL-H/SMPL-X model file for joints_w (default: open body)")
    parser.add_argument("--records-per-shard", type=int, default=64)
    parser.add_argument("--amass", default=None, help="HumanML3D: AMASS root of pose_data")
    parser.add_argument("--fps", type=float, default=None, help="Motion-X / BVH / BEDLAM label frame rate")
    parser.add_argument("--split", default=None, help="BEAT2: keep one split (train, test, ...)")
    parser.add_argument("--up", default=None, choices=("y", "z"),
                        help="Motion-X: up axis of the subset's world (default y)")
    args = parser.parse_args(argv)
    options = {k: v for k, v in (("amass", args.amass), ("fps", args.fps),
                                 ("split", args.split), ("up", args.up)) if v is not None}
    counts = convert(args.dataset, args.src, args.out, body=args.body,
                     records_per_shard=args.records_per_shard, **options)
    print(f"{args.dataset}: {counts['written']} written, {counts['resumed']} already done, "
          f"{counts['skipped']} skipped -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
