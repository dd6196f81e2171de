"""Rest skeleton, numpy forward kinematics and analytic leg IK for the procedural motion world.

The generator runs in numpy (Grain workers, shard writing), so it carries its own small FK over
the SMPL 24-joint tree (`genmo_jax.body.skeletons.SMPL_PARENTS`). FK semantics are SMPL's: the
root joint sits at `rest_joints[0] + transl` and rotates by `global_orient`; every other joint
j sits at `p[parent] + R_global[parent] @ (rest_joints[j] - rest_joints[parent])` and has
`R_global[j] = R_global[parent] @ R_local[j]`.

Rest skeleton. `RestSkeleton.from_body_model` takes the joints of the body model used for
training (the built-in open body when available). `RestSkeleton.smpl_like()` is the documented
fallback: joint positions of a neutral SMPL-like adult (metres, y-up, facing +z, T-pose), the
values of the SMPL neutral template's joint regressor rounded to millimetres; the floor sits
3 cm below the lower of the two foot (toe-base) joints.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from genmo_jax.body.skeletons import SMPL_PARENTS

PARENTS = np.asarray(SMPL_PARENTS, np.int64)
NUM_JOINTS = len(SMPL_PARENTS)

# Joint indices used by the generator (SPEC B 17).
PELVIS, L_HIP, R_HIP, SPINE1, L_KNEE, R_KNEE, SPINE2, L_ANKLE, R_ANKLE, SPINE3 = range(10)
L_FOOT, R_FOOT, NECK, L_COLLAR, R_COLLAR, HEAD = 10, 11, 12, 13, 14, 15
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 16, 17, 18, 19, 20, 21
HIPS, KNEES, ANKLES, FEET = (L_HIP, R_HIP), (L_KNEE, R_KNEE), (L_ANKLE, R_ANKLE), (L_FOOT, R_FOOT)

# Fallback rest joints (24, 3), metres: neutral SMPL-like adult in T-pose (see module docstring).
_SMPL_LIKE_REST_JOINTS = np.array([
    [-0.002, -0.241, 0.029], [0.059, -0.333, 0.014], [-0.060, -0.331, 0.020],
    [0.004, -0.117, -0.002], [0.104, -0.703, 0.020], [-0.105, -0.708, 0.012],
    [0.002, 0.022, 0.003], [0.092, -1.104, -0.017], [-0.092, -1.107, -0.019],
    [0.003, 0.076, 0.028], [0.115, -1.164, 0.100], [-0.117, -1.164, 0.103],
    [-0.013, 0.291, -0.011], [0.072, 0.191, 0.002], [-0.083, 0.189, -0.006],
    [0.011, 0.358, 0.035], [0.172, 0.232, -0.021], [-0.177, 0.233, -0.019],
    [0.433, 0.216, -0.042], [-0.431, 0.213, -0.042], [0.683, 0.227, -0.047],
    [-0.688, 0.225, -0.046], [0.766, 0.217, -0.060], [-0.770, 0.214, -0.058],
], np.float64)
_FALLBACK_SOLE_BELOW_FOOT_JOINT = 0.03  # metres


@dataclasses.dataclass(frozen=True)
class RestSkeleton:
    """Rest (T-pose, zero-rotation) joints of the body model, and where its floor is.

    joints: (24, 3) metres, the body model's rest joints for the clip's betas (transl = 0).
    floor_y: y of the sole in the rest pose, metres (the lowest skin point of the feet).
    """

    joints: np.ndarray
    floor_y: float

    @classmethod
    def smpl_like(cls) -> "RestSkeleton":
        """The documented fallback skeleton (module docstring); betas are then all zero."""
        joints = _SMPL_LIKE_REST_JOINTS.copy()
        return cls(joints, float(joints[list(FEET), 1].min() - _FALLBACK_SOLE_BELOW_FOOT_JOINT))

    @classmethod
    def from_arrays(cls, joints, vertices=None) -> "RestSkeleton":
        """From a body model's rest joints (24, 3) and optionally its rest vertices (V, 3)."""
        joints = np.asarray(joints, np.float64)
        if joints.shape != (NUM_JOINTS, 3):
            raise ValueError(f"rest joints must have shape ({NUM_JOINTS}, 3), got {joints.shape}")
        if vertices is not None:
            floor = float(np.asarray(vertices)[:, 1].min())
        else:
            floor = float(joints[list(FEET), 1].min() - _FALLBACK_SOLE_BELOW_FOOT_JOINT)
        return cls(joints, floor)

    @classmethod
    def from_body_model(cls, model, betas=None) -> "RestSkeleton":
        """From a 24-joint `genmo_jax.body.smpl.BodyModel` (SMPL layout, e.g. the built-in open
        body) for shape `betas` (S,) (default zeros); the floor is its lowest rest vertex."""
        return ShapeSpace.from_body_model(model).skeleton(betas)

    @property
    def offsets(self) -> np.ndarray:
        """(24, 3) bone vectors rest_joint[j] - rest_joint[parent[j]] (root: its position)."""
        offsets = self.joints.copy()
        offsets[1:] -= self.joints[PARENTS[1:]]
        return offsets

    @property
    def ankle_height(self) -> float:
        """Height of the ankle joints above the floor when a foot stands flat, metres."""
        return float(self.joints[list(ANKLES), 1].mean() - self.floor_y)

    @property
    def leg_reach(self) -> np.ndarray:
        """(2,) hip-to-ankle distance of the straight (knee angle 0) left and right legs."""
        return np.linalg.norm(self.joints[list(ANKLES)] - self.joints[list(HIPS)], axis=-1)


@dataclasses.dataclass(frozen=True)
class ShapeSpace:
    """Numpy copy of a body model's shape space, to make a `RestSkeleton` per clip's betas.

    joint_template (24, 3) m, joint_shapedirs (24, 3, S) m per unit beta, v_template (V, 3),
    shapedirs (V, 3, S): rest joints J(b) = joint_template + joint_shapedirs . b (SMPL).
    """

    joint_template: np.ndarray
    joint_shapedirs: np.ndarray
    v_template: np.ndarray
    shapedirs: np.ndarray

    @classmethod
    def from_body_model(cls, model) -> "ShapeSpace":
        """From a 24-joint `genmo_jax.body.smpl.BodyModel` (ValueError for other layouts)."""
        if model.num_joints != NUM_JOINTS:
            raise ValueError(f"the procedural world needs a {NUM_JOINTS}-joint SMPL-layout body "
                             f"model, got {model.num_joints} joints ({model.name})")
        return cls(*(np.asarray(a, np.float64) for a in (
            model.joint_template, model.joint_shapedirs, model.v_template, model.shapedirs)))

    @property
    def num_betas(self) -> int:
        return int(self.shapedirs.shape[-1])

    def skeleton(self, betas=None) -> RestSkeleton:
        """RestSkeleton for betas (S' <= S,) (default zeros); floor = lowest rest vertex."""
        betas = np.zeros(self.num_betas) if betas is None else np.asarray(betas, np.float64)
        count = min(betas.shape[0], self.num_betas)
        joints = self.joint_template + self.joint_shapedirs[..., :count] @ betas[:count]
        vertices = self.v_template + self.shapedirs[..., :count] @ betas[:count]
        return RestSkeleton.from_arrays(joints, vertices)


def forward_kinematics(skeleton: RestSkeleton, local_rotmats, transl):
    """Numpy FK over the SMPL tree.

    local_rotmats: (..., 24, 3, 3) local joint rotations (joint 0 = global_orient).
    transl: (..., 3) body-model translation, metres.
    Returns (positions (..., 24, 3) metres, global_rotmats (..., 24, 3, 3)).
    """
    local_rotmats = np.asarray(local_rotmats, np.float64)
    offsets = skeleton.offsets
    positions = [skeleton.joints[0] + np.asarray(transl, np.float64)]
    rotations = [local_rotmats[..., 0, :, :]]
    for joint in range(1, NUM_JOINTS):
        parent = PARENTS[joint]
        rotations.append(rotations[parent] @ local_rotmats[..., joint, :, :])
        positions.append(positions[parent] + np.einsum("...ij,j->...i", rotations[parent],
                                                       offsets[joint]))
    return np.stack(positions, axis=-2), np.stack(rotations, axis=-3)


def params_to_local_rotmats(global_orient, body_pose):
    """(..., 3) + (..., 63) axis-angle -> (..., 24, 3, 3); SMPL hand joints 22, 23 = identity."""
    global_orient = np.asarray(global_orient, np.float64)
    lead = global_orient.shape[:-1]
    rotvecs = np.zeros(lead + (NUM_JOINTS, 3))
    rotvecs[..., 0, :] = global_orient
    rotvecs[..., 1:22, :] = np.asarray(body_pose, np.float64).reshape(lead + (21, 3))
    return Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_matrix().reshape(lead + (NUM_JOINTS,
                                                                                  3, 3))


def joints_from_params(skeleton: RestSkeleton, global_orient, body_pose, transl):
    """World joints (..., 24, 3) metres from SMPL params (axis-angle, metres)."""
    positions, _ = forward_kinematics(skeleton, params_to_local_rotmats(global_orient, body_pose),
                                      transl)
    return positions


def rot_x(angle):
    """(...,) radians -> (..., 3, 3) rotation about +x."""
    c, s = np.cos(angle), np.sin(angle)
    zero, one = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([np.stack([one, zero, zero], -1), np.stack([zero, c, -s], -1),
                     np.stack([zero, s, c], -1)], -2)


def _normalize(v, eps=1e-9):
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), eps)


def _frame(primary, secondary):
    """Orthonormal frame (..., 3, 3) with columns (u, v, u x v): u along primary, v the part of
    secondary orthogonal to u."""
    u = _normalize(primary)
    v = _normalize(secondary - np.sum(secondary * u, -1, keepdims=True) * u)
    return np.stack([u, v, np.cross(u, v)], axis=-1)


def knee_angle_for_distance(thigh, shin, distance):
    """Knee flexion (rotation about the knee's +x axis, >= 0) that puts the ankle `distance`
    from the hip: solves |thigh + R_x(angle) shin| = distance in closed form.

    thigh, shin: (3,) rest bone vectors; distance: (...,) metres. Distances beyond the straight
    leg give angle 0; below the fully bent leg, the largest angle (pi - 0.05).
    """
    thigh = np.asarray(thigh, np.float64)
    shin = np.asarray(shin, np.float64)
    # thigh . R_x(a) shin = ax bx + P cos a + Q sin a = ax bx + rho cos(a - phi)
    p = thigh[1] * shin[1] + thigh[2] * shin[2]
    q = thigh[2] * shin[1] - thigh[1] * shin[2]
    rho, phi = np.hypot(p, q), np.arctan2(q, p)
    target = (np.square(distance) - thigh @ thigh - shin @ shin) / 2.0 - thigh[0] * shin[0]
    angle = phi + np.arccos(np.clip(target / rho, -1.0, 1.0))
    return np.clip(angle, 0.0, np.pi - 0.05)


def solve_leg_ik(skeleton: RestSkeleton, side: int, pelvis_rotmat, hip_position, ankle_target,
                 ankle_rotmat, knee_direction):
    """Analytic two-bone IK for one leg, per frame.

    side: 0 = left leg (joints 1, 4, 7), 1 = right leg (2, 5, 8).
    pelvis_rotmat: (L, 3, 3) global pelvis rotation; hip_position: (L, 3) world hip joint.
    ankle_target: (L, 3) world ankle position; ankle_rotmat: (L, 3, 3) wanted global ankle
    rotation (foot orientation); knee_direction: (L, 3) world direction the knee should point
    (the foot's forward), used to fix the twist of the leg about the hip-ankle line.
    Returns local rotations (hip, knee, ankle), each (L, 3, 3). The ankle lands exactly on the
    target whenever the target is within reach (distance <= straight leg).
    """
    hip, knee, ankle = HIPS[side], KNEES[side], ANKLES[side]
    joints = skeleton.joints
    thigh = joints[knee] - joints[hip]
    shin = joints[ankle] - joints[knee]
    to_target = ankle_target - hip_position
    distance = np.linalg.norm(to_target, axis=-1)
    knee_angle = knee_angle_for_distance(thigh, shin, distance)
    knee_rot = rot_x(knee_angle)
    chain_rest = thigh + np.einsum("lij,j->li", knee_rot, shin)  # hip->ankle in the hip frame
    to_target_local = np.einsum("lji,lj->li", pelvis_rotmat, to_target)
    # Twist: the knee flexion axis (+x of the knee frame) is kept perpendicular to the plane
    # spanned by the leg and the wanted knee direction, i.e. the knee bends toward it.
    knee_dir_local = np.einsum("lji,lj->li", pelvis_rotmat, knee_direction)
    wanted_axis = np.cross(-to_target_local, knee_dir_local)
    rest_axis = np.broadcast_to(np.array([1.0, 0.0, 0.0]), chain_rest.shape)
    hip_rot = _frame(to_target_local, wanted_axis) @ np.swapaxes(_frame(chain_rest, rest_axis),
                                                                  -1, -2)
    knee_global = pelvis_rotmat @ hip_rot @ knee_rot
    ankle_rot = np.swapaxes(knee_global, -1, -2) @ ankle_rotmat
    return hip_rot, knee_rot, ankle_rot
