"""Estimation runner: length buckets vs one compilation per sequence length.

    .venv/bin/python benchmarks/estimation_runner.py [--sequences 8] [--min-frames 130] [--max-frames 250]

Writes an EMDB-layout fixture folder whose EMDB-1 sequences all have different lengths, exports a
tiny random-weight model, and times `estimation_runner.evaluate_params` (flip test, static-joint
fix and contact IK on: every jitted step) in two fresh processes: with the runner's length
buckets, and with the bucket function replaced by the identity (each length compiles its own
programs, as an unpadded runner would). Prints both wall times (compilation included), the
ratio, and the largest difference between the two tables (they must agree: padding is masked).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)  # configs/

CHILD = r"""
import json, sys, time, types
from genmo_jax.evaluate import estimation_runner
if sys.argv[1] == "exact":
    estimation_runner.length_bucket = lambda num_frames, min_bucket=32: int(num_frames)
args = types.SimpleNamespace(params=sys.argv[2], data=sys.argv[3], out=sys.argv[4], camera="slam", flip_test=True,
                             static_joint_fix=True, contact_ik=True, rich_resource=None, smplx2smpl=None,
                             body=None, joint_regressor=None, chunking="gvhmr", save_predictions=False)
start = time.perf_counter()
ours, settings = estimation_runner.evaluate_params(args, "emdb1")
print(json.dumps({"seconds": time.perf_counter() - start, "ours": ours, "buckets": settings["length_buckets"]}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--min-frames", type=int, default=130)
    parser.add_argument("--max-frames", type=int, default=250)
    args = parser.parse_args()
    import numpy as np
    from flax import nnx

    from configs import tiny
    from genmo_jax import params_io
    from genmo_jax.evaluate import fixtures, test_files
    from genmo_jax.model.denoiser import Denoiser

    root = tempfile.mkdtemp(prefix="estimation_runner_bench_")
    config = tiny.get_config()
    model = Denoiser(config.model, rngs=nnx.Rngs(0))
    stats = {"mean": np.zeros(151, np.float32), "std": np.ones(151, np.float32)}
    export = os.path.join(root, "export")
    params_io.save_params(export, model, config, stats)
    lengths = np.linspace(args.min_frames, args.max_frames, args.sequences).astype(int).tolist()
    data = fixtures.write_emdb(os.path.join(root, "emdb"), names=test_files.EMDB1_NAMES[:args.sequences],
                               frames=lengths)
    results = {}
    for mode in ("bucketed", "exact"):
        out = subprocess.run([sys.executable, "-c", CHILD, mode, export, data, os.path.join(root, mode)],
                             capture_output=True, text=True, check=True,
                             env=dict(os.environ, PYTHONPATH=REPO))
        results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    diff = max(abs(results["bucketed"]["ours"][k] - results["exact"]["ours"][k]) for k in results["exact"]["ours"])
    print(f"tiny model (latent {config.model.latent_dim} x {config.model.num_layers} layers), {args.sequences} "
          f"EMDB-layout sequences of {lengths} frames, flip test + static-joint fix + contact IK")
    for mode, r in results.items():
        print(f"{mode:9s} {r['seconds']:7.1f} s  programs per step: {len(r['buckets'])}  buckets {r['buckets']}")
    print(f"ratio exact / bucketed: {results['exact']['seconds'] / results['bucketed']['seconds']:.2f}x; "
          f"largest table difference {diff:.2e} (mm, m/s^2)")


if __name__ == "__main__":
    main()
