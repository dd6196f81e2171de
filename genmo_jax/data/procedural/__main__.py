"""python -m genmo_jax.data.procedural --clips N --out DIR --seed S [--body open|smpl_like|PATH]
[--action-mix default|balanced]

Writes N procedural clips as ArrayRecord shards of schema records (resumable: clips already in
DIR are skipped). The rest skeleton must be the one of the body model you train with: `open`
(default) is the built-in open body, PATH a 24-joint SMPL-layout body model file, `smpl_like`
the documented fallback skeleton of `genmo_jax.data.procedural.skeleton`.
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing
import sys

from tqdm import tqdm

from genmo_jax.data import shards
from genmo_jax.data.procedural import records, world
from genmo_jax.data.procedural.skeleton import RestSkeleton, ShapeSpace


def load_skeleton(body: str) -> RestSkeleton | ShapeSpace:
    """The fixed fallback skeleton, or a body model's shape space (one body shape per clip)."""
    if body == "smpl_like":
        return RestSkeleton.smpl_like()
    from genmo_jax.body import smpl
    if body == "open":
        from genmo_jax.body.open_body import open_body_path
        body = open_body_path()
    return ShapeSpace.from_body_model(smpl.load_body_model(body))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmo_jax.data.procedural",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, required=True, help="number of clips (50 ... 20000)")
    parser.add_argument("--out", required=True, help="output shard directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--body", default="open",
                        help="'open' (built-in open body), 'smpl_like' (fallback skeleton) or a "
                             "24-joint SMPL-layout body model file")
    parser.add_argument("--dance-prob", type=float, default=0.15,
                        help="fraction of dance clips (need librosa for their music features)")
    parser.add_argument("--action-mix", choices=("default", "balanced"), default="default",
                        help="everyday action frequencies: 'default' (walking-heavy, "
                             "world.ACTION_WEIGHTS) or 'balanced' (every action equally often)")
    parser.add_argument("--records-per-shard", type=int, default=256)
    parser.add_argument("--workers", type=int, default=1,
                        help="generator processes (records are written in clip order)")
    args = parser.parse_args(argv)
    if args.clips < 1:
        parser.error(f"--clips must be >= 1, got {args.clips}")
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    if not 0.0 <= args.dance_prob <= 1.0:
        parser.error(f"--dance-prob must be in [0, 1], got {args.dance_prob}")
    if args.dance_prob > 0:
        try:
            import librosa  # noqa: F401
        except ImportError:
            parser.error("--dance-prob > 0 needs librosa for music features: "
                         "pip install 'genmo-jax[audio]' (or pass --dance-prob 0)")
    try:
        skeleton = load_skeleton(args.body)
    except (FileNotFoundError, ValueError) as error:
        parser.error(f"--body {args.body}: {error}")
    with shards.ShardWriter(args.out, records.DATASET, args.records_per_shard) as writer:
        todo = [i for i in range(args.clips)
                if records.clip_name(args.seed, i) not in writer.done_names]
        weights = world.BALANCED_ACTION_WEIGHTS if args.action_mix == "balanced" else None
        make = functools.partial(records.generate_record, skeleton, args.seed,
                                 dance_prob=args.dance_prob, action_weights=weights)
        progress = functools.partial(tqdm, total=len(todo), desc="procedural clips", unit="clip")
        if args.workers == 1:
            for record in progress(map(make, todo)):
                writer.add(record)
        else:
            # spawn: the parent may have imported jax (body model), which must not be forked
            with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
                for record in progress(pool.imap(make, todo, chunksize=4)):
                    writer.add(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
