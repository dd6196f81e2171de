"""`python -m genmo_jax.evaluate`: score a params folder on a benchmark's test files, or prediction files.

    python -m genmo_jax.evaluate --params DIR --benchmark emdb2 --data inputs/EMDB/hmr4d_support --out DIR
    python -m genmo_jax.evaluate --benchmark emdb2 --predictions DIR --out DIR

Writes `<out>/<NAME>.{json,md}`: the paper's reference rows with ours beneath (`--list` shows the
benchmarks). With `--params`, the estimation benchmarks (3dpw, emdb1, emdb2, rich) run
`estimation_runner.evaluate_params` and the generation benchmarks `generation_runner.evaluate_params`
(imported only then); `--benchmark NAME --help` lists that runner's own options. Prediction files:

- estimation (3dpw, emdb1, emdb2, rich): one `.npz` per sequence with pred_joints, gt_joints
  (L, J, 3) camera frame and/or pred_joints_world, gt_joints_world (world frame), optional
  pred_vertices, gt_vertices, pred_vertices_world, gt_vertices_world (L, V, 3) and mask (L,);
  metres, 30 fps. Options: --chunking gvhmr|tram, --joint-regressor FILE (joints regressed from
  the vertices with the benchmark's regressor; the joint arrays may then be absent).
- music (aistpp): one `.npz` per generated dance with joints (T, 24, 3) and music_beats (K,) frame
  indices, and --gt DIR with one `.npz` per GT dance holding joints. Options: --bas-variant, --fps.
- text (humanml3d, motionx): `embeddings.npz` with text (N, D), gen_motion (N, D), gt_motion (N, D)
  from the benchmark's evaluator (e.g. `t2m_evaluator`). Options: --replications.
- in-betweening (inbetween2, inbetween5): one `.npz` per test motion with pred_joints (S, T, J, 3)
  (S noise samples), gt_joints (T, J, 3), keyframes (K,).
"""

import argparse
import glob
import os
import sys

import numpy as np

from genmo_jax.evaluate import benchmarks, joint_sets, report


def _npz_files(folder, flag):
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{flag} {folder!r} is not a directory")
    files = sorted(glob.glob(os.path.join(folder, "*.npz")))
    if not files:
        raise FileNotFoundError(f"{flag} {folder!r} holds no .npz files")
    return files


def _load(path, keys=None):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    missing = [k for k in (keys or ()) if k not in arrays]
    if missing:
        raise ValueError(f"{path}: missing arrays {missing} (has {sorted(arrays)})")
    return arrays


def run(args):
    bench = benchmarks.get_benchmark(args.benchmark)
    settings = {"predictions": os.path.abspath(args.predictions)}
    if bench.task == "estimation":
        sequences = [_load(f) for f in _npz_files(args.predictions, "--predictions")]
        regressor = joint_sets.load_matrix(args.joint_regressor) if args.joint_regressor else None
        ours = report.score_estimation(sequences, bench, chunking=args.chunking, joint_regressor=regressor)
        settings.update(chunking=args.chunking, sequences=len(sequences), joint_regressor=args.joint_regressor)
    elif bench.task == "music":
        if not args.gt:
            raise ValueError("--gt DIR (GT dances) is required for the music benchmark")
        generated = [_load(f, ("joints", "music_beats")) for f in _npz_files(args.predictions, "--predictions")]
        gt = [_load(f, ("joints",))["joints"] for f in _npz_files(args.gt, "--gt")]
        ours = report.score_music([(g["joints"], g["music_beats"]) for g in generated], gt, fps=args.fps,
                                  bas_variant=args.bas_variant)
        settings.update(bas_variant=args.bas_variant, fps=args.fps, generated=len(generated), gt=len(gt))
    elif bench.task == "text":
        path = os.path.join(args.predictions, "embeddings.npz")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"--predictions: {path} not found")
        emb = _load(path, ("text", "gen_motion", "gt_motion"))
        ours = report.score_text(emb["text"], emb["gen_motion"], emb["gt_motion"], args.replications)
        settings.update(replications=args.replications, samples=len(emb["text"]))
    else:
        samples = [_load(f, ("pred_joints", "gt_joints", "keyframes")) for f in _npz_files(args.predictions,
                                                                                           "--predictions")]
        ours = report.score_inbetween([(s["pred_joints"], s["gt_joints"], s["keyframes"]) for s in samples])
        settings.update(motions=len(samples))
    return report.write_report(args.out, bench, ours, settings)


def _runner(bench):
    """The module that runs a params folder on `bench` (imported lazily: generation needs more)."""
    if bench.task == "estimation":
        from genmo_jax.evaluate import estimation_runner

        return estimation_runner
    from genmo_jax.evaluate import generation_runner

    return generation_runner


def run_params(args):
    bench = benchmarks.get_benchmark(args.benchmark)
    try:
        runner = _runner(bench)
    except ImportError as error:
        raise ValueError(f"--params: no runner for the {bench.task} benchmark {bench.name!r} ({error})") from None
    ours, settings = runner.evaluate_params(args, bench.name)
    return report.write_report(args.out, bench, ours, dict(settings), notes=note_lines(settings))


def note_lines(settings):
    """settings["notes"] (one string or a list of strings) as the lines printed under the table."""
    notes = settings.get("notes") or ()
    return (notes,) if isinstance(notes, str) else tuple(notes)


def build_parser(benchmark=None):
    """The CLI parser; the runner of `benchmark` (when it has one) adds its own flags."""
    parser = argparse.ArgumentParser(prog="python -m genmo_jax.evaluate", description=__doc__.split("\n")[0],
                                     epilog="`--benchmark NAME --help` also lists the options of NAME's runner.")
    parser.add_argument("--benchmark", help="benchmark name (see --list)")
    parser.add_argument("--params", help="exported params folder to run on the benchmark's test files (--data)")
    parser.add_argument("--data", help="with --params: the benchmark's test-file folder")
    parser.add_argument("--predictions", help="folder of prediction .npz files")
    parser.add_argument("--out", default="eval_results", help="folder for <benchmark>.json and .md")
    parser.add_argument("--gt", help="music: folder of GT dance .npz files (joints)")
    parser.add_argument("--chunking", default="gvhmr", choices=("gvhmr", "tram"))
    parser.add_argument("--joint-regressor", help="estimation: (J, V) regressor file (.npy/.npz/.pt); joints "
                        "are then regressed from the vertices, as the benchmarks do")
    parser.add_argument("--bas-variant", default="bailando", choices=("bailando", "gem", "fact"))
    parser.add_argument("--fps", type=float, default=30.0, help="music: frame rate of the dances and beats")
    parser.add_argument("--replications", type=int, default=20, help="text: number of shuffled replications")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    if benchmark in benchmarks.BENCHMARKS:
        try:
            _runner(benchmarks.BENCHMARKS[benchmark]).add_arguments(parser)
        except ImportError:  # a runner that is not installed: only the prediction-file path is offered
            pass
    return parser


def main(argv=None):
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--benchmark")
    known, _ = probe.parse_known_args(argv)
    parser = build_parser(known.benchmark)
    args = parser.parse_args(argv)
    if args.list:
        for name, bench in benchmarks.BENCHMARKS.items():
            print(f"{name:12s} {bench.task:11s} {bench.description}")
        return 0
    if not args.benchmark or bool(args.predictions) == bool(args.params):
        parser.error("give --benchmark and either --params (with --data) or --predictions (or --list)")
    try:
        print(run_params(args) if args.params else run(args))
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
