"""COCO-17 keypoints from a body model's COCO regressor, in numpy (for Grain workers).

Only the vertices the regressor uses (a few hundred of the mesh) are skinned: SMPL linear blend
skinning with shape and pose blend shapes on that subset, then `coco_regressor @ vertices`.
Works for 24-joint SMPL-layout files that carry a `coco_regressor` (17, V) key: the built-in open
body (`"open"`) or a user's SMPL `.pkl` with that key. The file is read with plain numpy (no JAX
calls, so it is safe inside forked worker processes) and cached once per process.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
from scipy.spatial.transform import Rotation

NUM_JOINTS = 24


@dataclasses.dataclass(frozen=True)
class CocoBody:
    """The regressor's support vertices of a body model, as numpy arrays.

    v_template (K, 3) m, shapedirs (K, 3, S), posedirs (K, 3, 207), weights (K, 24),
    regressor (17, K), joint_template (24, 3) m, joint_shapedirs (24, 3, S), parents (24,).
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    weights: np.ndarray
    regressor: np.ndarray
    joint_template: np.ndarray
    joint_shapedirs: np.ndarray
    parents: np.ndarray

    def joints_and_coco(self, betas, global_orient, body_pose, transl):
        """betas (S',), global_orient (L, 3), body_pose (L, 63) rad, transl (L, 3) m ->
        (SMPL joints (L, 24, 3), COCO-17 (L, 17, 3)) metres, world frame of the params."""
        betas = np.asarray(betas, np.float64).reshape(-1)
        count = min(betas.shape[0], self.shapedirs.shape[-1])
        joints_rest = self.joint_template + self.joint_shapedirs[..., :count] @ betas[:count]
        v_shaped = self.v_template + self.shapedirs[..., :count] @ betas[:count]
        num = np.shape(global_orient)[0]
        rotvecs = np.zeros((num, NUM_JOINTS, 3))
        rotvecs[:, 0] = global_orient
        rotvecs[:, 1:22] = np.asarray(body_pose, np.float64).reshape(num, 21, 3)
        local = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_matrix().reshape(
            num, NUM_JOINTS, 3, 3)
        pose_feature = (local[:, 1:] - np.eye(3)).reshape(num, -1)
        # matmul forms: numpy's einsum is several times slower on these shapes
        num_verts = v_shaped.shape[0]
        v_posed = v_shaped + (self.posedirs.reshape(num_verts * 3, -1) @ pose_feature.T).T.reshape(
            num, num_verts, 3)
        rotations = [local[:, 0]]
        positions = [np.broadcast_to(joints_rest[0], (num, 3))]
        for joint in range(1, NUM_JOINTS):
            parent = self.parents[joint]
            offset = joints_rest[joint] - joints_rest[parent]
            positions.append(positions[parent] + rotations[parent] @ offset)
            rotations.append(rotations[parent] @ local[:, joint])
        rot = np.stack(rotations, 1)                                   # (L, 24, 3, 3)
        pos = np.stack(positions, 1)                                   # (L, 24, 3)
        shift = pos - np.sum(rot * joints_rest[None, :, None, :], -1)   # x -> R x + shift
        vertex_rot = (self.weights @ rot.reshape(num, NUM_JOINTS, 9)).reshape(num, -1, 3, 3)
        vertex_shift = self.weights @ shift
        vertices = np.sum(vertex_rot * v_posed[..., None, :], -1) + vertex_shift
        offset = np.asarray(transl, np.float64)[:, None]
        return pos + offset, self.regressor @ vertices + offset


def _dense(value):
    value = value.toarray() if hasattr(value, "toarray") else value
    return np.asarray(value, np.float64)


@functools.lru_cache(maxsize=4)
def load_coco_body(path: str) -> CocoBody:
    """Reads a 24-joint SMPL-layout body file with a `coco_regressor`; "open" = the built-in
    open body. FileNotFoundError / ValueError name the file and the problem."""
    from genmo_jax.body import smpl   # its file reader is plain numpy

    if path == "open":
        from genmo_jax.body.open_body import open_body_path
        path = str(open_body_path())
    data = smpl._read_model_file(smpl._resolve_path(path, "neutral"))
    if "coco_regressor" not in data:
        raise ValueError(f"{path}: body model has no 'coco_regressor' key")
    regressor = _dense(data["coco_regressor"])
    j_regressor = _dense(data["J_regressor"])
    if j_regressor.shape[0] != NUM_JOINTS:
        raise ValueError(f"{path}: COCO from a body model needs a {NUM_JOINTS}-joint SMPL layout, "
                         f"got {j_regressor.shape[0]} joints")
    support = np.flatnonzero(np.abs(regressor).sum(0) > 0)
    v_template = _dense(data["v_template"])
    shapedirs = _dense(data["shapedirs"])
    posedirs = _dense(data["posedirs"])
    parents = np.asarray(data["kintree_table"], np.int64)[0].copy()
    parents[0] = -1
    return CocoBody(
        v_template=v_template[support], shapedirs=shapedirs[support],
        posedirs=posedirs[support], weights=_dense(data["weights"])[support],
        regressor=regressor[:, support], joint_template=j_regressor @ v_template,
        joint_shapedirs=np.einsum("jv,vcs->jcs", j_regressor, shapedirs), parents=parents)
