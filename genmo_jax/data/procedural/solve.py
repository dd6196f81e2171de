"""Turns a sequence of segments (`motions.py`) into SMPL parameters and FK joints.

Steps: concatenate the plan channels; smooth the pose channels across segment boundaries
(transitions); place the pelvis (standing height + segment offset, lowered where a leg could
not reach its ankle target); solve both legs with analytic IK so planted ankles sit exactly on
their targets; read the SMPL params off the local rotations; run FK for the world joints.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d, maximum_filter1d
from scipy.spatial.transform import Rotation

from genmo_jax.data.procedural import plan as pl
from genmo_jax.data.procedural import skeleton as sk

TRANSITION_SIGMA = 6.0    # frames: smoothing of pose channels around segment boundaries
TRANSITION_WIDTH = 12.0   # frames: how far from a boundary the smoothing reaches
KNEE_MARGIN = 0.012       # metres: the standing pelvis sits this much below the straight leg
REACH_MARGIN = 0.997      # fraction of the straight leg IK may use
LOWERING_RADIUS = 5       # frames: pelvis lowering is spread (max filter) this far, then smoothed

_CHANNELS = ("root_xz", "heading", "pelvis_dy", "pelvis_tilt", "ankle", "foot_yaw",
             "foot_pitch", "contact", "upper")


def concatenate(segments):
    """Joins the channels of consecutive segments -> (dict of (L, ...) arrays, boundaries)."""
    channels = {name: np.concatenate([getattr(s, name) for s in segments], axis=0)
                for name in _CHANNELS}
    boundaries = np.cumsum([s.num_frames for s in segments])[:-1]
    return channels, boundaries


def blend_transitions(values, boundaries):
    """Smooths (L, ...) `values` near segment boundaries only (elsewhere unchanged)."""
    if len(boundaries) == 0:
        return values
    frames = np.arange(values.shape[0], dtype=np.float64)
    weight = np.zeros_like(frames)
    for b in boundaries:
        weight = np.maximum(weight, np.exp(-0.5 * ((frames - b + 0.5) / (TRANSITION_WIDTH / 2))**2))
    smooth = gaussian_filter1d(values, TRANSITION_SIGMA, axis=0, mode="nearest")
    weight = weight.reshape((-1,) + (1,) * (values.ndim - 1))
    return values + weight * (smooth - values)


def pelvis_lowering(skeleton, pelvis_pos, pelvis_rot, ankle):
    """(L,) metres the pelvis must drop so both ankle targets are within reach, smoothed
    upward (max filter of radius LOWERING_RADIUS, then a Gaussian that stays within it) so the
    result is >= the requirement on every frame."""
    required = np.zeros(pelvis_pos.shape[0])
    reach = skeleton.leg_reach * REACH_MARGIN
    for side in (0, 1):
        hip = pelvis_pos + np.einsum("lij,j->li", pelvis_rot,
                                     skeleton.joints[sk.HIPS[side]] - skeleton.joints[0])
        d = hip - ankle[:, side]
        horizontal = np.hypot(d[:, 0], d[:, 2])
        vertical_room = np.sqrt(np.maximum(reach[side]**2 - horizontal**2, 0.0))
        required = np.maximum(required, d[:, 1] - vertical_room)
    spread = maximum_filter1d(required, 2 * LOWERING_RADIUS + 1, mode="nearest")
    sigma = LOWERING_RADIUS / 3.0
    return gaussian_filter1d(spread, sigma, mode="nearest", truncate=3.0)


def solve(skeleton: sk.RestSkeleton, segments):
    """Segments -> dict with SMPL params and joints (float32 where stored):

    body_pose (L, 63), global_orient (L, 3), transl (L, 3) world axis-angle / metres;
    joints_w (L, 24, 3) metres; contact (L, 4) bool planted [L_ankle, L_foot, R_ankle, R_foot];
    ankle_target (L, 2, 3) metres; boundaries (S - 1,) first frame of each later segment.
    """
    c, boundaries = concatenate(segments)
    num_frames = c["root_xz"].shape[0]
    upper = blend_transitions(c["upper"], boundaries)
    tilt = blend_transitions(c["pelvis_tilt"], boundaries)
    pelvis_dy = blend_transitions(c["pelvis_dy"], boundaries)

    heading_rot = pl.yaw_rotmat(c["heading"])
    pelvis_rot = heading_rot @ Rotation.from_rotvec(tilt).as_matrix()
    standing = skeleton.joints[0, 1] - skeleton.floor_y - KNEE_MARGIN
    # The world floor is y = 0: a flat foot has its ankle at skeleton.ankle_height.
    pelvis_pos = np.stack([c["root_xz"][:, 0], standing + pelvis_dy,
                           c["root_xz"][:, 1]], axis=-1)
    pelvis_pos[:, 1] -= pelvis_lowering(skeleton, pelvis_pos, pelvis_rot, c["ankle"])

    local = Rotation.from_rotvec(upper.reshape(-1, 3)).as_matrix().reshape(num_frames,
                                                                          sk.NUM_JOINTS, 3, 3)
    local[:, 0] = pelvis_rot
    for joint in (*sk.FEET, 22, 23):
        local[:, joint] = np.eye(3)
    for side in (0, 1):
        hip_pos = pelvis_pos + np.einsum("lij,j->li", pelvis_rot,
                                         skeleton.joints[sk.HIPS[side]] - skeleton.joints[0])
        yaw = c["foot_yaw"][:, side]
        foot_rot = pl.yaw_rotmat(yaw) @ sk.rot_x(c["foot_pitch"][:, side])
        knee_dir = np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], axis=-1)
        hip_rot, knee_rot, ankle_rot = sk.solve_leg_ik(skeleton, side, pelvis_rot, hip_pos,
                                                       c["ankle"][:, side], foot_rot, knee_dir)
        local[:, sk.HIPS[side]] = hip_rot
        local[:, sk.KNEES[side]] = knee_rot
        local[:, sk.ANKLES[side]] = ankle_rot

    rotvecs = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_rotvec().reshape(
        num_frames, sk.NUM_JOINTS, 3)
    transl = pelvis_pos - skeleton.joints[0]
    joints, _ = sk.forward_kinematics(skeleton, local, transl)
    return dict(global_orient=rotvecs[:, 0], body_pose=rotvecs[:, 1:22].reshape(num_frames, 63),
                transl=transl, joints_w=joints, contact=c["contact"], ankle_target=c["ankle"],
                heading=c["heading"], boundaries=boundaries)
