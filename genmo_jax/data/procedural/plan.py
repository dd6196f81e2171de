"""The motion plan: per-frame targets that segments write and `solve.py` turns into SMPL params.

A plan is a set of per-frame channels (L frames, 30 fps, world y-up metres, yaw about +y, a body
facing +z at yaw 0; positive yaw turns the body to its left):
- root_xz (L, 2): horizontal pelvis position; heading (L,): body yaw, radians;
- pelvis_dy (L,): vertical pelvis offset from the standing height (negative = lower), metres;
- pelvis_tilt (L, 3): extra pelvis rotation (rotation vector in the heading frame: x = lean
  forward, z = roll, y = twist);
- ankle (L, 2, 3): world ankle targets (left, right); foot_yaw (L, 2), foot_pitch (L, 2)
  (rotation about the foot's x axis; positive lifts the heel);
- contact (L, 4) bool: planted [L_ankle, L_foot, R_ankle, R_foot] joints;
- upper (L, 24, 3): local rotation vectors of the joints IK does not set (spine, neck, head,
  collars, arms); leg and foot entries are ignored.

Stepping engine: `feet_from_steps` turns a list of footsteps (which foot, lift frame, land frame,
target) into ankle tracks. Between steps a foot is planted (contact), so the ankle does not move
on planted frames by construction.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from genmo_jax.data.procedural import skeleton as sk

FPS = 30.0


def yaw_rotmat(yaw):
    """(...,) radians -> (..., 3, 3) rotation about +y."""
    c, s = np.cos(yaw), np.sin(yaw)
    zero, one = np.zeros_like(yaw), np.ones_like(yaw)
    return np.stack([np.stack([c, zero, s], -1), np.stack([zero, one, zero], -1),
                     np.stack([-s, zero, c], -1)], -2)


def heading_vectors(yaw):
    """(...,) yaw -> forward (..., 2) and left (..., 2) unit vectors in the (x, z) plane."""
    forward = np.stack([np.sin(yaw), np.cos(yaw)], -1)
    left = np.stack([np.cos(yaw), -np.sin(yaw)], -1)
    return forward, left


def smoothstep(u):
    """C1 ease 0 -> 1 on u in [0, 1] (clipped outside)."""
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


def ramp(num_frames, rise, fall=None):
    """Envelope (num_frames,) rising 0 -> 1 over `rise` frames and falling over `fall` frames."""
    fall = rise if fall is None else fall
    n = np.arange(num_frames, dtype=np.float64)
    return smoothstep(n / max(rise, 1)) * smoothstep((num_frames - 1 - n) / max(fall, 1))


@dataclasses.dataclass
class State:
    """Where a segment starts: pelvis ground position, heading, planted feet."""

    root_xz: np.ndarray          # (2,)
    heading: float
    ankle: np.ndarray            # (2, 3) planted ankle positions
    foot_yaw: np.ndarray         # (2,)
    seated: bool = False


@dataclasses.dataclass
class Segment:
    """Per-frame channels of one segment (see the module docstring) plus its caption."""

    root_xz: np.ndarray
    heading: np.ndarray
    pelvis_dy: np.ndarray
    pelvis_tilt: np.ndarray
    ankle: np.ndarray
    foot_yaw: np.ndarray
    foot_pitch: np.ndarray
    contact: np.ndarray
    upper: np.ndarray
    label: str
    caption: str
    end: State

    @property
    def num_frames(self) -> int:
        return int(self.root_xz.shape[0])


def empty_channels(num_frames):
    """Zero pelvis_dy, pelvis_tilt and upper-body channels for a segment."""
    return (np.zeros(num_frames), np.zeros((num_frames, 3)),
            np.zeros((num_frames, sk.NUM_JOINTS, 3)))


def stance_feet(skeleton: sk.RestSkeleton, root_xz, heading, width):
    """Ankle positions (2, 3) and yaws (2,) of a relaxed stance at root_xz facing `heading`."""
    _, left = heading_vectors(np.asarray(heading, np.float64))
    ankle = np.zeros((2, 3))
    for side, sign in ((0, 1.0), (1, -1.0)):
        ankle[side, [0, 2]] = np.asarray(root_xz) + sign * width * left
        ankle[side, 1] = skeleton.ankle_height
    return ankle, np.array([heading, heading], np.float64)


@dataclasses.dataclass
class Step:
    """One footstep: `side` (0 left, 1 right) lifts at frame `lift`, lands at `land` (floats
    allowed) on `target` (3,) ankle position with yaw `yaw`. `roll` > 0 lifts the heel about
    the toe joint during the last `roll` frames before lift-off (toe stays planted)."""

    side: int
    lift: float
    land: float
    target: np.ndarray
    yaw: float
    height: float = 0.08
    roll: float = 0.0
    roll_pitch: float = 0.5


def _toe_pivot_ankle(skeleton: sk.RestSkeleton, side, ankle_flat, yaw, pitch):
    """Ankle position when the foot planted at `ankle_flat` pivots about its toe joint."""
    ankle_joint, foot_joint = sk.ANKLES[side], sk.FEET[side]
    toe_offset = skeleton.joints[foot_joint] - skeleton.joints[ankle_joint]
    yaw_rot = yaw_rotmat(np.asarray(yaw, np.float64))
    toe = ankle_flat + yaw_rot @ toe_offset
    pitch_rot = sk.rot_x(np.asarray(pitch, np.float64))
    return toe - yaw_rot @ pitch_rot @ toe_offset


def feet_from_steps(skeleton: sk.RestSkeleton, num_frames, start_ankle, start_yaw, steps):
    """Ankle tracks from a list of footsteps (the steps of one foot must not overlap).

    start_ankle: (2, 3), start_yaw: (2,) planted feet at frame 0.
    Returns ankle (L, 2, 3), foot_yaw (L, 2), foot_pitch (L, 2), contact (L, 4) bool.
    """
    frames = np.arange(num_frames, dtype=np.float64)
    ankle = np.repeat(np.asarray(start_ankle, np.float64)[None], num_frames, axis=0)
    foot_yaw = np.repeat(np.asarray(start_yaw, np.float64)[None], num_frames, axis=0)
    foot_pitch = np.zeros((num_frames, 2))
    contact = np.ones((num_frames, 4), bool)
    for side in (0, 1):
        planted, planted_yaw = np.asarray(start_ankle[side], np.float64), float(start_yaw[side])
        for step in sorted((s for s in steps if s.side == side), key=lambda s: s.lift):
            roll_start = step.lift - step.roll
            # heel lift about the toe before lift-off: the toe joint stays planted
            rolling = (frames >= roll_start) & (frames < step.lift)
            if step.roll > 0 and np.any(rolling):
                pitch = step.roll_pitch * smoothstep((frames[rolling] - roll_start) / step.roll)
                ankle[rolling, side] = _toe_pivot_ankle(skeleton, side, planted, planted_yaw,
                                                        pitch)
                foot_pitch[rolling, side] = pitch
                contact[rolling, 2 * side] = False
            lift_pitch = step.roll_pitch if step.roll > 0 else 0.0
            lift_ankle = _toe_pivot_ankle(skeleton, side, planted, planted_yaw, lift_pitch)
            swinging = (frames >= step.lift) & (frames < step.land)
            u = (frames[swinging] - step.lift) / max(step.land - step.lift, 1e-6)
            s = smoothstep(u)[:, None]
            track = lift_ankle + s * (np.asarray(step.target) - lift_ankle)
            track[:, 1] += step.height * np.sin(np.pi * u)
            ankle[swinging, side] = track
            yaw_delta = np.angle(np.exp(1j * (step.yaw - planted_yaw)))
            foot_yaw[swinging, side] = planted_yaw + s[:, 0] * yaw_delta
            foot_pitch[swinging, side] = lift_pitch * (1.0 - smoothstep(u / 0.6))
            contact[swinging, 2 * side: 2 * side + 2] = False
            after = frames >= step.land
            planted, planted_yaw = np.asarray(step.target, np.float64), float(step.yaw)
            ankle[after, side] = planted
            foot_yaw[after, side] = planted_yaw
            foot_pitch[after, side] = 0.0
    return ankle, foot_yaw, foot_pitch, contact
