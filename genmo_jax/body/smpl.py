"""SMPL-family body models in JAX: loading (SMPL .pkl, SMPL-H / SMPL-X .npz), skeleton FK, LBS.

A `BodyModel` is a pytree of arrays plus static metadata, so it can be passed straight into
jitted functions. All functions here are pure and batched over arbitrary leading axes.

Shapes (V vertices, J kinematic joints, S shape coefficients, P = 9 (J - 1) pose correctives):
  v_template (V, 3) m, shapedirs (V, 3, S) m, posedirs (P, V, 3) m (the file's (V, 3, P)
  transposed once at load: a (.., P) @ (P, 3V) product is 30-50x faster on CPU than contracting
  the file's last axis every call), J_regressor (J, V), weights (V, J), faces (F, 3) int32,
  pose_mean (J, 3) rad.
Joint order is the file's kinematic tree (SMPL: 24 joints, SPEC B 17; SMPL-H: 52; SMPL-X: 55,
whose first 22 are the SMPL body joints). The skeleton fast path (`skeleton_forward`) returns the
first `num_skeleton_joints` joints: 24 for SMPL, 22 body joints for SMPL-H / SMPL-X.

Pose inputs are axis-angle: global_orient (..., 3) and body_pose (..., 63) for joints 1..21 (the
remaining joints get zero rotation on top of `pose_mean`) or (..., 3 (J - 1)) for every joint.
`pose_mean` is zero except for the SMPL-X / SMPL-H hands, which sit at the file's mean hand pose
(as in smplx with flat_hand_mean=False, and as in GEM) unless loaded with flat_hand_mean=True.
`forward_from_rotations` takes local rotation matrices instead (the losses' path from 6D).
"""

import os
import pickle

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from genmo_jax.body.rotations import axis_angle_to_matrix, matmul3, matvec3

__all__ = [
    "BodyModel",
    "load_body_model",
    "rest_joints",
    "skeleton_forward",
    "forward",
    "forward_from_rotations",
    "coco17_joints",
]

# Large contractions in full float32 (on GPUs the default TF32 put 0.5 mm errors on skinned
# vertices); 3x3 products go through rotations.matmul3 / matvec3 (elementwise).
_HIGHEST = jax.lax.Precision.HIGHEST

_REQUIRED_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
_NUM_BODY_POSE_JOINTS = 21  # joints 1..21 carried by the 63-d body_pose


@flax.struct.dataclass
class BodyModel:
    """Arrays of one SMPL-family body model (see the module docstring for shapes and units)."""

    v_template: jnp.ndarray  # (V, 3) m
    shapedirs: jnp.ndarray  # (V, 3, S) m per unit beta
    posedirs: jnp.ndarray  # (P, V, 3) m per unit of (R - I) entry (file layout transposed)
    J_regressor: jnp.ndarray  # (J, V) dense
    weights: jnp.ndarray  # (V, J) skinning weights
    faces: jnp.ndarray  # (F, 3) int32
    pose_mean: jnp.ndarray  # (J, 3) rad, added to every pose (hand mean for SMPL-X / SMPL-H)
    joint_template: jnp.ndarray  # (J, 3) m = J_regressor @ v_template (precomputed for FK)
    joint_shapedirs: jnp.ndarray  # (J, 3, S) = J_regressor @ shapedirs
    coco_regressor: jnp.ndarray | None = None  # (17, V) optional
    sparse_vertex_ids: jnp.ndarray | None = None  # (K,) int32 optional
    parents: tuple = flax.struct.field(pytree_node=False, default=())  # (J,) root = -1
    num_skeleton_joints: int = flax.struct.field(pytree_node=False, default=24)
    name: str = flax.struct.field(pytree_node=False, default="smpl")

    @property
    def num_joints(self):
        return len(self.parents)

    @property
    def num_vertices(self):
        return self.v_template.shape[0]

    @property
    def num_betas(self):
        return self.shapedirs.shape[-1]


# ----------------------------------------------------------------------------------- loading


class _ChumpyArray:
    """Stand-in for chumpy objects met while unpickling: keeps the pickled state only.

    A pickled `chumpy.ch.Ch` stores its value under the state key "x" (a numpy array).
    """

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        self.state = {}

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"x": state}


class _ChumpyFreeUnpickler(pickle.Unpickler):
    """Unpickles SMPL .pkl files without chumpy installed (chumpy classes -> `_ChumpyArray`).

    The official files were pickled by Python 2 with old module paths: `scipy.sparse.csc`
    (deprecated, gone in SciPy 2) is resolved through the `scipy.sparse` namespace.
    """

    def find_class(self, module, name):
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyArray
        if module.startswith("scipy.sparse"):
            import scipy.sparse

            if hasattr(scipy.sparse, name):
                return getattr(scipy.sparse, name)
        return super().find_class(module, name)


def _to_numpy(value, path, key):
    """Plain numpy array from a numpy array, chumpy stand-in or scipy sparse matrix."""
    if isinstance(value, _ChumpyArray):
        if not isinstance(value.state.get("x"), np.ndarray):
            raise ValueError(f"{path}: key '{key}' is a chumpy expression without a stored value 'x'")
        value = value.state["x"]
    if hasattr(value, "toarray"):  # scipy.sparse (J_regressor in the official SMPL .pkl)
        value = value.toarray()
    try:
        return np.asarray(value)
    except Exception as error:  # e.g. an object the shim cannot turn into numbers
        raise ValueError(f"{path}: key '{key}' is not an array ({type(value).__name__})") from error


def _read_model_file(path):
    """Dict-like of the raw model file: .pkl (latin1, chumpy-free) or .npz."""
    if path.endswith(".npz"):
        try:
            return np.load(path, allow_pickle=False)
        except Exception as error:
            raise ValueError(f"{path}: not a readable .npz body model ({error})") from error
    try:
        with open(path, "rb") as f:
            data = _ChumpyFreeUnpickler(f, encoding="latin1").load()
    except Exception as error:
        raise ValueError(f"{path}: not a readable .pkl body model ({error})") from error
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a pickled dict of arrays, got {type(data).__name__}")
    return data


def _resolve_path(path, gender):
    """A file path, or a folder holding SMPL_{GENDER}.pkl / SMPLX_{GENDER}.npz / SMPLH_{GENDER}.npz."""
    path = os.fspath(path)
    if os.path.isdir(path):
        names = [f"{p}_{gender.upper()}.{e}" for p in ("SMPLX", "SMPL", "SMPLH") for e in ("npz", "pkl")]
        for name in names:
            if os.path.isfile(os.path.join(path, name)):
                return os.path.join(path, name)
        raise FileNotFoundError(
            f"{path}: no body model file for gender '{gender}' (looked for {', '.join(names)})"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"body model file not found: {path}")
    return path


def load_body_model(path, num_betas=10, gender="neutral", flat_hand_mean=False):
    """Loads an SMPL-family model file into a `BodyModel` (float32).

    Args:
      path: SMPL `.pkl` (official, chumpy-free unpickling; J_regressor may be scipy sparse),
        SMPL-H / SMPL-X `.npz`, the built-in open body (SMPL layout with optional extra keys
        `coco_regressor` (17, V) and `sparse_vertex_ids` (K,)), or a folder holding
        `SMPL_{GENDER}.pkl` / `SMPLX_{GENDER}.npz` / `SMPLH_{GENDER}.npz`.
      num_betas: number of shape coefficients (the file's first ones; zero directions are
        appended when the file has fewer).
      gender: used only when `path` is a folder.
      flat_hand_mean: if False, SMPL-X / SMPL-H hands rest at the file's `hands_mean{l,r}` pose.

    Raises:
      FileNotFoundError: missing file. ValueError: unreadable file, missing key or bad shape.
    """
    path = _resolve_path(path, gender)
    data = _read_model_file(path)
    missing = [k for k in _REQUIRED_KEYS if k not in data]
    if missing:
        raise ValueError(f"{path}: missing key(s) {', '.join(repr(k) for k in missing)} in body model file")
    arrays = {k: _to_numpy(data[k], path, k) for k in _REQUIRED_KEYS}

    def check(key, ok, expected):
        if not ok:
            raise ValueError(f"{path}: key '{key}' has shape {arrays[key].shape}, expected {expected}")

    v_template = arrays["v_template"]
    check("v_template", v_template.ndim == 2 and v_template.shape[1] == 3, "(V, 3)")
    num_vertices = v_template.shape[0]
    kintree = arrays["kintree_table"]
    check("kintree_table", kintree.ndim == 2 and kintree.shape[0] == 2, "(2, J)")
    num_joints = kintree.shape[1]
    shapedirs = arrays["shapedirs"]
    if shapedirs.ndim == 2:
        shapedirs = shapedirs[:, :, None]
        arrays["shapedirs"] = shapedirs
    check("shapedirs", shapedirs.shape[:2] == (num_vertices, 3), f"({num_vertices}, 3, S)")
    posedirs = arrays["posedirs"]
    num_correctives = 9 * (num_joints - 1)
    check("posedirs", posedirs.shape == (num_vertices, 3, num_correctives),
          f"({num_vertices}, 3, {num_correctives})")
    check("J_regressor", arrays["J_regressor"].shape == (num_joints, num_vertices),
          f"({num_joints}, {num_vertices})")
    check("weights", arrays["weights"].shape == (num_vertices, num_joints), f"({num_vertices}, {num_joints})")
    check("f", arrays["f"].ndim == 2 and arrays["f"].shape[1] == 3, "(F, 3)")
    if num_betas < 1:
        raise ValueError(f"num_betas must be >= 1, got {num_betas}")
    # SMPL-X files stack 300 shape + 100 expression directions; shape comes first in all files.
    shapedirs = shapedirs[:, :, :num_betas]
    if shapedirs.shape[-1] < num_betas:
        # Fewer directions in the file than asked for: the extra betas have no effect, so callers
        # can always pass `num_betas` coefficients.
        pad = np.zeros(shapedirs.shape[:2] + (num_betas - shapedirs.shape[-1],), shapedirs.dtype)
        shapedirs = np.concatenate([shapedirs, pad], axis=-1)

    parents = [int(p) for p in kintree[0].astype(np.int64)]
    parents[0] = -1  # the file stores uint32 max for the root
    if any(not (0 <= parents[j] < num_joints) or parents[j] == j for j in range(1, num_joints)):
        raise ValueError(f"{path}: key 'kintree_table' does not describe a tree rooted at joint 0")
    _tree_levels(tuple(parents))  # raises on cycles

    pose_mean = np.zeros((num_joints, 3), np.float32)
    if not flat_hand_mean and num_joints in (52, 55) and "hands_meanl" in data and "hands_meanr" in data:
        first_hand_joint = 22 if num_joints == 52 else 25  # SMPL-X has jaw and two eyes first
        left = _to_numpy(data["hands_meanl"], path, "hands_meanl").reshape(15, 3)
        right = _to_numpy(data["hands_meanr"], path, "hands_meanr").reshape(15, 3)
        pose_mean[first_hand_joint : first_hand_joint + 15] = left
        pose_mean[first_hand_joint + 15 : first_hand_joint + 30] = right

    coco_regressor = sparse_vertex_ids = None
    if "coco_regressor" in data:
        coco_regressor = _to_numpy(data["coco_regressor"], path, "coco_regressor")
        if coco_regressor.shape != (17, num_vertices):
            raise ValueError(
                f"{path}: key 'coco_regressor' has shape {coco_regressor.shape}, "
                f"expected (17, {num_vertices})"
            )
        coco_regressor = jnp.asarray(coco_regressor, jnp.float32)
    if "sparse_vertex_ids" in data:
        sparse_vertex_ids = _to_numpy(data["sparse_vertex_ids"], path, "sparse_vertex_ids").reshape(-1)
        out_of_range = (sparse_vertex_ids < 0) | (sparse_vertex_ids >= num_vertices)
        if out_of_range.any():
            raise ValueError(f"{path}: key 'sparse_vertex_ids' has indices outside [0, {num_vertices})")
        sparse_vertex_ids = jnp.asarray(sparse_vertex_ids, jnp.int32)

    j_regressor = arrays["J_regressor"].astype(np.float64)
    name = {24: "smpl", 52: "smplh", 55: "smplx"}.get(num_joints, f"body{num_joints}")
    return BodyModel(
        v_template=jnp.asarray(v_template, jnp.float32),
        shapedirs=jnp.asarray(shapedirs, jnp.float32),
        posedirs=jnp.asarray(np.ascontiguousarray(np.transpose(posedirs, (2, 0, 1))), jnp.float32),
        J_regressor=jnp.asarray(j_regressor, jnp.float32),
        weights=jnp.asarray(arrays["weights"], jnp.float32),
        faces=jnp.asarray(arrays["f"].astype(np.int64), jnp.int32),
        pose_mean=jnp.asarray(pose_mean),
        joint_template=jnp.asarray(j_regressor @ v_template.astype(np.float64), jnp.float32),
        joint_shapedirs=jnp.asarray(np.einsum("jv,vcs->jcs", j_regressor, shapedirs.astype(np.float64)),
                                    jnp.float32),
        coco_regressor=coco_regressor,
        sparse_vertex_ids=sparse_vertex_ids,
        parents=tuple(parents),
        num_skeleton_joints=24 if num_joints == 24 else min(22, num_joints),
        name=name,
    )


# ------------------------------------------------------------------------------ kinematics


def _tree_levels(parents):
    """Joints grouped by depth: [(joint ids, parent ids), ...] for depth 1, 2, ... (numpy)."""
    depth = [0] * len(parents)
    for j in range(1, len(parents)):
        seen, p = 0, j
        while parents[p] != -1:
            p = parents[p]
            seen += 1
            if seen > len(parents):
                raise ValueError("kinematic tree has a cycle")
        depth[j] = seen
    levels = []
    for d in range(1, max(depth) + 1):
        ids = np.array([j for j in range(len(parents)) if depth[j] == d], np.int32)
        levels.append((ids, np.array([parents[j] for j in ids], np.int32)))
    return levels


def _full_pose(model, global_orient, body_pose, num_joints):
    """(..., num_joints, 3) axis-angle from global_orient (..., 3) and a 63-d or full body_pose."""
    body_pose = jnp.asarray(body_pose)
    total = model.num_joints
    per_joint = body_pose.reshape(body_pose.shape[:-1] + (-1, 3))
    given = per_joint.shape[-2]
    if body_pose.shape[-1] % 3 or given not in (_NUM_BODY_POSE_JOINTS, total - 1):
        raise ValueError(
            f"body_pose last axis must be 63 or {3 * (total - 1)} for a {total}-joint model, "
            f"got {body_pose.shape[-1]}"
        )
    lead = jnp.broadcast_shapes(jnp.shape(global_orient)[:-1], per_joint.shape[:-2])
    pose = jnp.concatenate(
        [
            jnp.broadcast_to(jnp.asarray(global_orient)[..., None, :], lead + (1, 3)),
            jnp.broadcast_to(per_joint, lead + per_joint.shape[-2:]),
        ],
        axis=-2,
    )
    if pose.shape[-2] < total:
        pose = jnp.concatenate([pose, jnp.zeros(lead + (total - pose.shape[-2], 3), pose.dtype)], axis=-2)
    return (pose + model.pose_mean)[..., :num_joints, :]


def _shape_betas(model, betas):
    """Pads betas (..., <=S) with zeros to the model's S."""
    betas = jnp.asarray(betas)
    if betas.shape[-1] > model.num_betas:
        raise ValueError(f"betas has {betas.shape[-1]} coefficients, the body model keeps {model.num_betas}")
    pad = model.num_betas - betas.shape[-1]
    if pad:
        betas = jnp.concatenate([betas, jnp.zeros(betas.shape[:-1] + (pad,), betas.dtype)], axis=-1)
    return betas


def _rest_joints(model, betas, num_joints):
    """J(beta) of the first num_joints joints; betas already padded to S. (..., J', 3) m."""
    shapedirs = model.joint_shapedirs[:num_joints]
    shape_offsets = jnp.einsum("...s,jcs->...jc", betas, shapedirs, precision=_HIGHEST)
    return model.joint_template[:num_joints] + shape_offsets


@jax.jit
def rest_joints(model, betas):
    """Rest-pose joint positions J(beta): (..., S') -> (..., J, 3) metres (all J joints)."""
    return _rest_joints(model, _shape_betas(model, betas), model.num_joints)


def _global_transforms(parents, rotations, joints_rest):
    """Chains local rigid transforms down the tree, one vectorised step per tree depth.

    rotations (..., J, 3, 3) local joint rotations; joints_rest (..., J, 3) rest positions.
    Returns global rotations (..., J, 3, 3) and posed joint positions (..., J, 3).
    """
    lead = rotations.shape[:-3]
    num_joints = len(parents)
    # One flat batch axis: keeps the per-level gathers/scatters simple for XLA.
    rotations = rotations.reshape((-1, num_joints, 3, 3))
    joints_rest = joints_rest.reshape((-1, num_joints, 3))
    parent_ids = np.array([max(p, 0) for p in parents])
    offsets = joints_rest - joints_rest[:, parent_ids, :]
    offsets = offsets.at[:, 0, :].set(joints_rest[:, 0, :])  # the root keeps its position
    global_rot = rotations
    global_pos = offsets
    for ids, pids in _tree_levels(tuple(parents)):
        parent_rot = global_rot[:, pids]
        global_pos = global_pos.at[:, ids].set(
            matvec3(parent_rot, offsets[:, ids]) + global_pos[:, pids]
        )
        global_rot = global_rot.at[:, ids].set(matmul3(parent_rot, rotations[:, ids]))
    return global_rot.reshape(lead + (num_joints, 3, 3)), global_pos.reshape(lead + (num_joints, 3))


def _broadcast_inputs(betas, transl, pose, pose_ndim=2):
    """betas, transl and pose (..., *core) broadcast to their common leading axes."""
    core = pose.shape[pose.ndim - pose_ndim:]
    lead = jnp.broadcast_shapes(betas.shape[:-1], jnp.shape(transl)[:-1], pose.shape[:-pose_ndim])
    betas = jnp.broadcast_to(betas, lead + betas.shape[-1:])
    transl = jnp.broadcast_to(jnp.asarray(transl), lead + (3,))
    return betas, transl, jnp.broadcast_to(pose, lead + core)


@jax.jit
def skeleton_forward(model, betas, global_orient, body_pose, transl):
    """Forward kinematics of the skeleton only (no skinning): the fast path used by losses.

    Args:
      betas (..., S'), global_orient (..., 3) rad, body_pose (..., 63) or (..., 3 (J - 1)) rad,
      transl (..., 3) m; leading axes broadcast against each other.
    Returns:
      joints (..., model.num_skeleton_joints, 3) metres: 24 for SMPL, 22 body joints for SMPL-X.
    """
    num = model.num_skeleton_joints
    parents = model.parents[:num]
    pose = _full_pose(model, global_orient, body_pose, num)
    betas = _shape_betas(model, betas)
    betas, transl, pose = _broadcast_inputs(betas, transl, pose)
    joints_rest = _rest_joints(model, betas, num)
    _, joints = _global_transforms(parents, axis_angle_to_matrix(pose), joints_rest)
    return joints + transl[..., None, :]


@jax.jit
def forward(model, betas, global_orient, body_pose, transl, vertex_ids=None):
    """Full SMPL forward: shape and pose blend shapes, linear blend skinning.

    Args as `skeleton_forward`; vertex_ids: optional (K,) int vertex subset (only those
    vertices are computed; joints are unaffected).
    Returns:
      {"vertices": (..., V or K, 3) m, "joints": (..., J, 3) m, all kinematic joints}.
    """
    pose = _full_pose(model, global_orient, body_pose, model.num_joints)
    betas = _shape_betas(model, betas)
    betas, transl, pose = _broadcast_inputs(betas, transl, pose)
    return _skin(model, betas, axis_angle_to_matrix(pose), transl, vertex_ids)


@jax.jit
def forward_from_rotations(model, betas, rotations, transl, vertex_ids=None):
    """`forward` from local rotation matrices instead of axis-angle: what a network that
    predicts rotations (6D -> matrix) feeds the losses, without an axis-angle round trip.

    Args:
      betas (..., S'); rotations (..., J', 3, 3) local rotations of joints 0..J'-1 (root first;
      J' = 22 for global_orient + the 63-d body_pose, up to J); transl (..., 3) m.
      The model's joints J'..J-1 take their `pose_mean` rotation (the SMPL-X / SMPL-H mean
      hands), as a zero pose there does in `forward`. Body joints have a zero `pose_mean` in
      every SMPL-family file, so `forward_from_rotations(axis_angle_to_matrix(pose))` equals
      `forward(pose)`.
    Returns:
      as `forward`.
    """
    rotations = jnp.asarray(rotations)
    given, total = rotations.shape[-3] if rotations.ndim >= 3 else 0, model.num_joints
    if rotations.shape[-2:] != (3, 3) or not 1 <= given <= total:
        raise ValueError(f"rotations must be (..., J', 3, 3) with 1 <= J' <= {total}, "
                         f"got shape {rotations.shape}")
    betas, transl, rotations = _broadcast_inputs(_shape_betas(model, betas), transl, rotations, 3)
    if given < total:
        rest = axis_angle_to_matrix(model.pose_mean[given:]).astype(rotations.dtype)
        rest = jnp.broadcast_to(rest, rotations.shape[:-3] + rest.shape)
        rotations = jnp.concatenate([rotations, rest], axis=-3)
    return _skin(model, betas, rotations, transl, vertex_ids)


def _skin(model, betas, rotations, transl, vertex_ids):
    """FK + blend shapes + LBS from broadcast inputs: betas (..., S), rotations (..., J, 3, 3),
    transl (..., 3)."""
    num_joints = model.num_joints
    joints_rest = _rest_joints(model, betas, num_joints)
    global_rot, joints = _global_transforms(model.parents, rotations, joints_rest)

    v_template, shapedirs = model.v_template, model.shapedirs
    posedirs, weights = model.posedirs, model.weights
    if vertex_ids is not None:
        vertex_ids = jnp.asarray(vertex_ids)
        v_template, shapedirs = v_template[vertex_ids], shapedirs[vertex_ids]
        posedirs, weights = posedirs[:, vertex_ids], weights[vertex_ids]
    lead, num_verts = rotations.shape[:-3], v_template.shape[0]
    # Every contraction is a plain 2-D matmul in the (..., 3, V) layout: a per-vertex einsum
    # "vj,...jab->...vab" ran as XLA CPU's slowest op of the train step.
    # Blend shapes: (..., S) @ (S, 3V) and (..., P) @ (P, 3V).
    shape_dirs = jnp.transpose(shapedirs, (2, 1, 0)).reshape(-1, 3 * num_verts)
    pose_dirs = jnp.transpose(posedirs, (0, 2, 1)).reshape(posedirs.shape[0], 3 * num_verts)
    pose_feature = (rotations[..., 1:, :, :] - jnp.eye(3, dtype=rotations.dtype)).reshape(lead + (-1,))
    offsets = (jnp.matmul(betas, shape_dirs, precision=_HIGHEST)
               + jnp.matmul(pose_feature, pose_dirs, precision=_HIGHEST))
    v_posed = v_template.T + offsets.reshape(lead + (3, num_verts))        # (..., 3, V)
    # Skinning: joint j maps rest points x -> G_R x + (G_t - G_R J_rest); the 12 numbers of every
    # joint's transform are blended with the vertex weights in one (..., 12, J) @ (J, V) matmul.
    joint_shift = joints - matvec3(global_rot, joints_rest)                # (..., J, 3)
    transforms = jnp.concatenate([global_rot.reshape(lead + (num_joints, 9)), joint_shift], -1)
    blended = jnp.matmul(jnp.swapaxes(transforms, -1, -2), weights.T, precision=_HIGHEST)
    rot = blended[..., :9, :].reshape(lead + (3, 3, num_verts))           # [a, b, v] = R_ab
    # x'_a = sum_b R_ab x_b + t_a, with rot[..., b, :] = column b of R: (..., 3, V)
    vertices = (rot[..., 0, :] * v_posed[..., 0:1, :] + rot[..., 1, :] * v_posed[..., 1:2, :]
                + rot[..., 2, :] * v_posed[..., 2:3, :] + blended[..., 9:, :])
    vertices = jnp.swapaxes(vertices, -1, -2)
    offset = transl[..., None, :]
    return {"vertices": vertices + offset, "joints": joints + offset}


@jax.jit
def coco17_joints(model, vertices):
    """COCO-17 keypoints regressed from full-mesh vertices: (..., V, 3) -> (..., 17, 3) m."""
    if model.coco_regressor is None:
        raise ValueError(f"body model '{model.name}' has no 'coco_regressor' (add the key to its file)")
    return jnp.einsum("kv,...vc->...kc", model.coco_regressor, vertices, precision=_HIGHEST)
