"""Numpy helpers every converter shares: rotations, 30-fps resampling, axis changes, SMPL FK.

Converters run once, offline, in numpy (no JAX, no device). The only body-model dependency is
`rest_joints(betas, gender) -> (24, 3)`: SMPL joint positions depend on the pose only through the
kinematic chain, so posed joints are exactly `forward_kinematics(rest_joints, rotations, transl)`.
`BodyJoints` plugs the body model in (`genmo_jax.body`), tests plug a synthetic skeleton.
"""

from __future__ import annotations

import os
from typing import Callable, Protocol

import numpy as np
from scipy.spatial.transform import Rotation

from genmo_jax.body import skeletons
from genmo_jax.body.open_body import open_body_path
from genmo_jax.data import schema

SMPL_PARENTS = np.array(skeletons.SMPL_PARENTS)
SMPL_JOINT_NAMES = skeletons.SMPL_JOINT_NAMES

# (x, y, z)_yup = (x, z, -y)_zup: rotation of -90 degrees about x (docs/CONVENTIONS.md).
R_ZUP_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


class RestJoints(Protocol):
    def __call__(self, betas: np.ndarray, gender: str) -> np.ndarray:
        """betas (10,) -> rest-pose joint positions (24, 3) metres."""


# SMPL's hand joints (22, 23) sit at the middle-finger base: SMPL-H / SMPL-X joint indices.
_HAND_JOINTS = {52: (25, 40), 55: (28, 43)}


def default_rest_joints(body_path: str | None = None) -> RestJoints:
    """Rest joints from `genmo_jax.body.smpl`: the SMPL-family file (or folder with
    SMPL_{GENDER}.pkl, ...) at `body_path`, or the built-in open body when None.
    SMPL-H / SMPL-X models give their 22 body joints plus the middle-finger bases as SMPL's
    hand joints 22, 23.
    """
    from genmo_jax.body import smpl

    path = body_path if body_path is not None else str(open_body_path())
    cache: dict[str, object] = {}

    def rest_joints(betas, gender):
        key = gender if os.path.isdir(path) else "file"
        if key not in cache:
            cache[key] = smpl.load_body_model(path, num_betas=schema.NUM_BETAS, gender=gender)
        model = cache[key]
        betas = np.asarray(betas, np.float32).reshape(-1)[:model.num_betas]
        joints = np.asarray(smpl.rest_joints(model, betas), np.float64)
        if joints.shape[0] in _HAND_JOINTS:
            joints = np.concatenate([joints[:22], joints[list(_HAND_JOINTS[joints.shape[0]])]])
        if joints.shape[0] < schema.NUM_JOINTS:
            raise ValueError(f"body model {path!r} has {joints.shape[0]} joints, expected 24 "
                             "(SMPL), 52 (SMPL-H) or 55 (SMPL-X)")
        return joints[:schema.NUM_JOINTS]
    return rest_joints


# ---------------------------------------------------------------- rotations

def aa_to_matrix(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3)."""
    shape = axis_angle.shape[:-1]
    flat = Rotation.from_rotvec(axis_angle.reshape(-1, 3).astype(np.float64)).as_matrix()
    return flat.reshape(*shape, 3, 3)


def matrix_to_aa(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 3) axis-angle."""
    shape = matrix.shape[:-2]
    return Rotation.from_matrix(matrix.reshape(-1, 3, 3)).as_rotvec().reshape(*shape, 3)


def _quat_wxyz(axis_angle):
    xyzw = Rotation.from_rotvec(axis_angle.reshape(-1, 3)).as_quat()
    return xyzw[:, [3, 0, 1, 2]].reshape(*axis_angle.shape[:-1], 4)


def resample(axis_angle: np.ndarray, transl: np.ndarray, src_fps: float,
             dst_fps: float = schema.FPS) -> tuple[np.ndarray, np.ndarray]:
    """Resamples a motion to `dst_fps`: rotations by slerp, translations linearly.

    axis_angle (F, J, 3), transl (F, 3) at `src_fps` -> (L, J, 3), (L, 3) with output frame k at
    time k / dst_fps, for every k with k / dst_fps <= (F - 1) / src_fps.
    """
    num_src = axis_angle.shape[0]
    if src_fps <= 0:
        raise ValueError(f"frame rate must be positive, got {src_fps}")
    # Rates within 0.1 % are the same rate written with few digits (BVH "Frame Time: 0.033333").
    if abs(src_fps - dst_fps) < 1e-3 * dst_fps or num_src < 2:
        return axis_angle.astype(np.float64), transl.astype(np.float64)
    duration = (num_src - 1) / src_fps
    num_dst = int(np.floor(duration * dst_fps + 1e-6)) + 1
    position = np.arange(num_dst) * (src_fps / dst_fps)       # fractional source frame
    lower = np.minimum(np.floor(position).astype(int), num_src - 2)
    frac = position - lower
    quats = _quat_wxyz(axis_angle.astype(np.float64))        # (F, J, 4)
    q0, q1 = quats[lower], quats[lower + 1]
    dot = np.sum(q0 * q1, -1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)                           # shortest arc
    dot = np.abs(dot).clip(max=1.0)
    theta = np.arccos(dot)
    sin_theta = np.sin(theta)
    f = frac[:, None, None]
    small = sin_theta < 1e-6
    w0 = np.where(small, 1 - f, np.sin((1 - f) * theta) / np.where(small, 1, sin_theta))
    w1 = np.where(small, f, np.sin(f * theta) / np.where(small, 1, sin_theta))
    q = w0 * q0 + w1 * q1
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    rotvec = Rotation.from_quat(q.reshape(-1, 4)[:, [1, 2, 3, 0]]).as_rotvec()
    ft = frac[:, None]
    new_transl = (1 - ft) * transl[lower] + ft * transl[lower + 1]
    return rotvec.reshape(num_dst, -1, 3), new_transl


# ---------------------------------------------------------------- kinematics

def forward_kinematics(rest_joints: np.ndarray, rotations: np.ndarray,
                       transl: np.ndarray) -> np.ndarray:
    """SMPL joint positions. rest_joints (24, 3), rotations (L, 24, 3, 3) local,
    transl (L, 3) metres -> (L, 24, 3): the pelvis at rest_joints[0] + transl."""
    num_frames = rotations.shape[0]
    global_rot = np.zeros((num_frames, 24, 3, 3))
    positions = np.zeros((num_frames, 24, 3))
    global_rot[:, 0] = rotations[:, 0]
    positions[:, 0] = rest_joints[0] + transl
    for joint in range(1, 24):  # 23 steps over the tree; vectorised over frames
        parent = SMPL_PARENTS[joint]
        offset = rest_joints[joint] - rest_joints[parent]
        global_rot[:, joint] = global_rot[:, parent] @ rotations[:, joint]
        positions[:, joint] = positions[:, parent] + global_rot[:, parent] @ offset
    return positions


def smpl_joints(rest_joints: np.ndarray, global_orient: np.ndarray, body_pose: np.ndarray,
                transl: np.ndarray) -> np.ndarray:
    """World joints (L, 24, 3) from SMPL params; hand joints 22, 23 get zero rotation."""
    num_frames = global_orient.shape[0]
    axis_angle = np.concatenate([global_orient[:, None], body_pose.reshape(num_frames, 21, 3),
                                 np.zeros((num_frames, 2, 3))], axis=1)
    return forward_kinematics(rest_joints, aa_to_matrix(axis_angle), transl)


def rotate_world(rotation: np.ndarray, global_orient: np.ndarray, transl: np.ndarray,
                 pelvis_rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expresses SMPL world params in a rotated world frame x' = rotation @ x.

    The body model rotates about the pelvis (rest position `pelvis_rest` (3,)), not the
    origin, so transl' = rotation @ (transl + pelvis_rest) - pelvis_rest.
    """
    orient = matrix_to_aa(rotation @ aa_to_matrix(global_orient))
    new_transl = (transl + pelvis_rest) @ rotation.T - pelvis_rest
    return orient, new_transl


def world_record(*, source: str, name: str, rest_joints_fn: RestJoints, global_orient,
                 body_pose, transl, betas, gender: str = "neutral", **extra) -> dict:
    """A schema record from y-up, 30-fps world SMPL params; computes `joints_w`."""
    betas = np.zeros(schema.NUM_BETAS) if betas is None else \
        np.asarray(betas, np.float64).reshape(-1)[:schema.NUM_BETAS]
    betas = np.pad(betas, (0, schema.NUM_BETAS - betas.shape[0]))
    rest = np.asarray(rest_joints_fn(betas, gender), np.float64)
    joints = smpl_joints(rest, global_orient, body_pose, transl)
    return schema.make_record(source=source, name=name, global_orient=global_orient,
                              body_pose=body_pose, transl=transl, betas=betas, gender=gender,
                              joints_w=joints, **extra)


def normalise_gender(value) -> str:
    """AMASS-style gender fields (str, bytes, 0-d arrays) -> "neutral" | "male" | "female"."""
    value = np.asarray(value).reshape(-1)[0] if np.ndim(value) else np.asarray(value).item()
    if isinstance(value, bytes):
        value = value.decode()
    value = str(value).strip().lower()
    return value if value in schema.GENDERS else "neutral"


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of an official .npz file. Pickle is used only when the file needs it (some
    releases store `gender` as an object array); our own records never need it."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except ValueError as error:
        if "allow_pickle" not in str(error):
            raise ValueError(f"{str(path)!r}: unreadable npz ({error})") from error
    with np.load(path, allow_pickle=True) as data:
        return {key: data[key] for key in data.files}


def relative_name(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """Clip name = path relative to the dataset root, without extension, '/'-separated."""
    rel = os.path.relpath(path, root)
    return os.path.splitext(rel)[0].replace(os.sep, "/")


Converter = Callable[..., object]
