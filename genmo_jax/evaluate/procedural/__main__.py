"""python -m genmo_jax.evaluate.procedural --params DIR --out DIR [--clips N] [--quick]

Scores an exported model (`python -m genmo_jax.export`) on held-out clips of the procedural world:
estimation from simulated 2D keypoints, text-to-motion, music-to-dance and in-betweening (2 and 5
keyframes), each a table with reference rows (docs/EVALUATION.md, "Procedural benchmark").
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from genmo_jax.evaluate.procedural import benchmark, retrieval


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmo_jax.evaluate.procedural",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--params", required=True, help="exported params folder")
    parser.add_argument("--out", required=True, help="output folder for the tables (JSON + Markdown)")
    parser.add_argument("--clips", type=int, help="base clip count (default 64; --quick: 4)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: few clips, 2 DDIM steps, a retrieval evaluator trained 5 steps")
    parser.add_argument("--tasks", default=",".join(benchmark.TASKS),
                        help=f"comma-separated subset of {','.join(benchmark.TASKS)}")
    parser.add_argument("--ddim-steps", type=int, help="DDIM steps (default: 50; --quick: 2)")
    parser.add_argument("--guidance-scale", type=float, help="classifier-free guidance scale (default 2.5)")
    parser.add_argument("--no-camera-condition", action="store_true",
                        help="estimation without the camera angular-velocity condition (2D only)")
    parser.add_argument("--retrieval", default=None,
                        help="retrieval evaluator folder (default: the committed genmo_jax/evaluate/procedural/"
                             f"evaluator_v1, else {retrieval.default_cache_dir()}); trained there when missing")
    parser.add_argument("--seed", type=int, default=0, help="sampling noise seed")
    args = parser.parse_args(argv)
    tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
    if args.clips is not None and args.clips < 1:
        parser.error(f"--clips must be >= 1, got {args.clips}")
    if args.ddim_steps is not None and args.ddim_steps < 1:
        parser.error(f"--ddim-steps must be >= 1, got {args.ddim_steps}")
    try:
        settings = benchmark.settings_for(args.clips, args.quick)
        overrides = {"seed": args.seed, "camera_condition": not args.no_camera_condition}
        if args.ddim_steps is not None:
            overrides["ddim_steps"] = args.ddim_steps
        if args.guidance_scale is not None:
            overrides["guidance_scale"] = args.guidance_scale
        settings = dataclasses.replace(settings, **overrides)
        benchmark.run_benchmark(args.params, args.out, settings, tasks=tasks, retrieval_dir=args.retrieval,
                                quick_retrieval=args.quick and args.retrieval is None)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
