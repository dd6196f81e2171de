"""SMPL forward cost on this CPU: genmo-jax (skeleton FK, full LBS) against smplx on the same inputs.

Run with the reference environment (smplx needs torch):
    .venv-ref/bin/python benchmarks/body_model.py --batches 1 1024 --repeats 10
Without torch/smplx only the JAX rows are printed. The model is a synthetic file in the official
SMPL .pkl layout at SMPL's sizes (6890 vertices, 24 joints, 10 betas, 207 pose correctives), so no
licensed file is needed; costs depend only on these sizes. Prints microseconds per frame (best of
`--repeats` calls after a warm-up/compile call) and the smplx / genmo-jax ratios.
"""

import argparse
import os
import pickle
import tempfile
from collections import defaultdict

import jax
import numpy as np
import scipy.sparse

from genmo_jax.body import skeletons
from genmo_jax.body.smpl import forward, load_body_model, skeleton_forward

from timing import best_seconds


def write_smpl_sized_model(path, seed=0, num_vertices=6890):
    rng = np.random.default_rng(seed)
    parents = np.array(skeletons.SMPL_PARENTS)
    regressor = rng.random((24, num_vertices)) * (rng.random((24, num_vertices)) < 0.01)
    regressor /= regressor.sum(1, keepdims=True)
    weights = rng.random((num_vertices, 24)) ** 8
    weights /= weights.sum(1, keepdims=True)
    data = {
        "v_template": rng.normal(scale=0.3, size=(num_vertices, 3)),
        "shapedirs": rng.normal(scale=0.01, size=(num_vertices, 3, 10)),
        "posedirs": rng.normal(scale=0.01, size=(num_vertices, 3, 207)),
        "J_regressor": scipy.sparse.csc_matrix(regressor),
        "weights": weights,
        "kintree_table": np.stack([parents % 2**32, np.arange(24)]).astype(np.uint32),
        "f": rng.integers(0, num_vertices, size=(13776, 3)).astype(np.uint32),
    }
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 1024])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--torch-device", default="cpu", help="where smplx runs: cpu or cuda")
    args = parser.parse_args()
    try:
        import smplx
        import torch
    except ImportError:
        smplx = torch = None
        print("torch/smplx not importable: genmo-jax rows only (run with .venv-ref for the ratios)")

    path = os.path.join(tempfile.mkdtemp(), "SMPL_NEUTRAL.pkl")
    write_smpl_sized_model(path)
    model = load_body_model(path)
    fk = jax.jit(skeleton_forward)
    lbs = jax.jit(forward)
    if smplx is not None:
        torch.set_grad_enabled(False)
        reference = smplx.SMPL(path, num_betas=10, vertex_ids=defaultdict(int)).to(args.torch_device)
        from smplx.lbs import batch_rigid_transform, batch_rodrigues, blend_shapes, vertices2joints

    print(f"jax {jax.__version__} on {jax.devices()[0].device_kind}; torch {torch.__version__ if torch else '-'} "
          f"on {args.torch_device} threads {torch.get_num_threads() if torch else '-'}; model {path} (V=6890, J=24)")
    print(f"{'batch':>6} {'path':<22} {'genmo-jax us/frame':>19} {'smplx us/frame':>15} {'smplx/jax':>10}")
    rng = np.random.default_rng(1)
    for batch in args.batches:
        inputs = {
            "betas": rng.normal(size=(batch, 10)).astype(np.float32),
            "global_orient": rng.normal(scale=0.5, size=(batch, 3)).astype(np.float32),
            "body_pose": rng.normal(scale=0.3, size=(batch, 63)).astype(np.float32),
            "transl": rng.normal(size=(batch, 3)).astype(np.float32),
        }
        jax_inputs = {k: jax.device_put(v) for k, v in inputs.items()}
        jax_fk = best_seconds(lambda: jax.block_until_ready(fk(model, **jax_inputs)), args.repeats)
        jax_lbs = best_seconds(lambda: jax.block_until_ready(lbs(model, **jax_inputs)), args.repeats)
        ref_fk = ref_lbs = None
        if smplx is not None:
            t = {k: torch.from_numpy(v).to(args.torch_device) for k, v in inputs.items()}
            body_pose69 = torch.cat([t["body_pose"], torch.zeros(batch, 6, device=args.torch_device)], -1)
            sync = torch.cuda.synchronize if args.torch_device.startswith("cuda") else (lambda: None)

            def smplx_forward():
                out = reference(betas=t["betas"], global_orient=t["global_orient"], body_pose=body_pose69, transl=t["transl"])
                sync()
                return out

            def smplx_skeleton():
                # What smplx does for joints only: shape blend, joint regression, Rodrigues, chain.
                v_shaped = reference.v_template + blend_shapes(t["betas"], reference.shapedirs)
                joints_rest = vertices2joints(reference.J_regressor, v_shaped)
                pose = torch.cat([t["global_orient"], body_pose69], -1).reshape(-1, 3)
                rots = batch_rodrigues(pose).reshape(batch, 24, 3, 3)
                posed, _ = batch_rigid_transform(rots, joints_rest, reference.parents)
                sync()
                return posed + t["transl"][:, None]

            ref_fk = best_seconds(smplx_skeleton, args.repeats)
            ref_lbs = best_seconds(smplx_forward, args.repeats)
            ref_out = smplx_forward()
            ours = lbs(model, **jax_inputs)
            err_v = np.abs(np.asarray(ours["vertices"]) - ref_out.vertices.cpu().numpy()).max()
            err_j = np.abs(np.asarray(fk(model, **jax_inputs)) - ref_out.joints.cpu().numpy()[:, :24]).max()
            print(f"{batch:>6} max |genmo-jax - smplx|: vertices {err_v:.2e} m, FK joints {err_j:.2e} m")
        for name, mine, ref in (("skeleton FK (24 j)", jax_fk, ref_fk), ("full LBS (6890 v)", jax_lbs, ref_lbs)):
            ref_text = f"{1e6 * ref / batch:15.2f} {ref / mine:10.2f}" if ref is not None else f"{'-':>15} {'-':>10}"
            print(f"{batch:>6} {name:<22} {1e6 * mine / batch:19.2f} {ref_text}")


if __name__ == "__main__":
    main()
