"""BVH export and import for the SMPL 24-joint skeleton (Blender, MotionBuilder, Maya read it).

The BVH skeleton is the SMPL tree (`body.skeletons.SMPL_PARENTS`) with the rest offsets of the
sampled body (joints of the T-pose for its betas), so FK of the written file gives back the body
model's joints. Conventions:
- positions in the file are `scale` x metres (default 100: centimetres, the common BVH unit);
  y-up world, like genmo-jax's world frame;
- the root has 6 channels (Xposition Yposition Zposition Zrotation Xrotation Yrotation), every
  other joint 3 (Zrotation Xrotation Yrotation): R_local = Rz @ Rx @ Ry (intrinsic Z-X-Y Euler,
  degrees), the joint's rotation relative to its parent, exactly SMPL's local rotation;
- the root position channel is the world position of the pelvis joint (transl + rest pelvis).

Host-side numpy/scipy code: this is file I/O, not a hot path.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.spatial.transform import Rotation

from genmo_jax.body.skeletons import SMPL_JOINT_NAMES, SMPL_PARENTS

_EULER_ORDER = "ZXY"  # intrinsic, matches the channel order below
_END_SITE_LENGTH_M = 0.08


@dataclasses.dataclass
class BvhMotion:
    """A parsed BVH file.

    Attributes:
      names: joint names in file order (J,).
      parents: parent index per joint, -1 for the root (J,).
      offsets: (J, 3) rest offsets from the parent, file units.
      channels: per joint, the list of channel names.
      frame_time: seconds per frame.
      motion: (F, C) channel values per frame, file units / degrees.
    """

    names: list[str]
    parents: list[int]
    offsets: np.ndarray
    channels: list[list[str]]
    frame_time: float
    motion: np.ndarray


def write_smpl_bvh(path, rest_joints, global_orient, body_pose, transl, *, fps=30.0, scale=100.0,
                   joint_names=SMPL_JOINT_NAMES, parents=SMPL_PARENTS):
    """Writes an SMPL motion as BVH.

    Args:
      path: output file.
      rest_joints: (24, 3) metres, T-pose joints of the body for its betas (transl = 0).
      global_orient: (F, 3) axis-angle of the root in the world frame.
      body_pose: (F, 63) axis-angle of joints 1..21, or (F, 69) for joints 1..23.
      transl: (F, 3) metres, the body model's translation parameter.
      fps: frame rate of the motion.
      scale: file units per metre (100 = centimetres).
    """
    rest_joints = np.asarray(rest_joints, np.float64)
    global_orient = np.asarray(global_orient, np.float64)
    body_pose = np.asarray(body_pose, np.float64)
    transl = np.asarray(transl, np.float64)
    num_joints = len(parents)
    if rest_joints.shape != (num_joints, 3):
        raise ValueError(f"write_smpl_bvh: rest_joints must be ({num_joints}, 3), got {rest_joints.shape}")
    frames = global_orient.shape[0]
    if body_pose.shape[-1] % 3 or body_pose.shape[0] != frames or transl.shape != (frames, 3):
        raise ValueError(
            "write_smpl_bvh: expected global_orient (F, 3), body_pose (F, 63|69), transl (F, 3); got "
            f"{global_orient.shape}, {body_pose.shape}, {transl.shape}")
    local_aa = np.zeros((frames, num_joints, 3))
    local_aa[:, 0] = global_orient
    pose = body_pose.reshape(frames, -1, 3)
    local_aa[:, 1:1 + pose.shape[1]] = pose[:, :num_joints - 1]
    euler = Rotation.from_rotvec(local_aa.reshape(-1, 3)).as_euler(_EULER_ORDER, degrees=True)
    euler = euler.reshape(frames, num_joints, 3)
    root_position = (transl + rest_joints[0]) * scale

    children = [[c for c in range(num_joints) if parents[c] == j] for j in range(num_joints)]
    lines = ["HIERARCHY"]

    def emit(j, depth):
        pad = "\t" * depth
        offset = (rest_joints[j] - (rest_joints[parents[j]] if parents[j] >= 0 else 0.0)) * scale
        if parents[j] < 0:
            lines.append(f"{pad}ROOT {joint_names[j]}")
            offset = np.zeros(3)  # the root's position is carried by its channels
        else:
            lines.append(f"{pad}JOINT {joint_names[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}\tOFFSET {offset[0]:.6f} {offset[1]:.6f} {offset[2]:.6f}")
        if parents[j] < 0:
            lines.append(f"{pad}\tCHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation")
        else:
            lines.append(f"{pad}\tCHANNELS 3 Zrotation Xrotation Yrotation")
        if children[j]:
            for c in children[j]:
                emit(c, depth + 1)
        else:  # leaf: an end site continuing the bone direction
            bone = offset if np.linalg.norm(offset) > 0 else np.array([0.0, 1.0, 0.0])
            end = bone / np.linalg.norm(bone) * _END_SITE_LENGTH_M * scale
            lines.append(f"{pad}\tEnd Site")
            lines.append(f"{pad}\t{{")
            lines.append(f"{pad}\t\tOFFSET {end[0]:.6f} {end[1]:.6f} {end[2]:.6f}")
            lines.append(f"{pad}\t}}")
        lines.append(f"{pad}}}")

    order = []

    def visit(j):
        order.append(j)
        for c in children[j]:
            visit(c)

    emit(0, 0)
    visit(0)
    columns = [root_position] + [euler[:, j] for j in order]
    values = np.concatenate(columns, axis=1)
    lines += ["MOTION", f"Frames: {frames}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in values]
    with open(path, "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")


def read_bvh(path) -> BvhMotion:
    """Parses a BVH file (any skeleton, any Euler channel order)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        tokens = f.read().split()
    names, parents, offsets, channels = [], [], [], []
    stack, i = [], 0
    try:
        while tokens[i] != "MOTION":
            tok = tokens[i]
            if tok in ("ROOT", "JOINT"):
                names.append(tokens[i + 1])
                parents.append(stack[-1] if stack else -1)
                offsets.append(np.zeros(3))
                channels.append([])
                stack.append(len(names) - 1)
                i += 2
            elif tok == "End":  # End Site { OFFSET x y z }: not a joint
                i += 2 + 1 + 4 + 1
            elif tok == "OFFSET":
                offsets[stack[-1]] = np.array([float(t) for t in tokens[i + 1:i + 4]])
                i += 4
            elif tok == "CHANNELS":
                n = int(tokens[i + 1])
                channels[stack[-1]] = tokens[i + 2:i + 2 + n]
                i += 2 + n
            elif tok == "}":
                stack.pop()
                i += 1
            else:  # HIERARCHY, '{'
                i += 1
        frames = int(tokens[i + 2])
        frame_time = float(tokens[i + 5])
        values = np.array([float(t) for t in tokens[i + 6:]], np.float64)
    except (IndexError, ValueError) as e:
        raise ValueError(f"{path}: malformed BVH ({e})") from None
    num_channels = sum(len(c) for c in channels)
    if values.size != frames * num_channels:
        raise ValueError(f"{path}: MOTION has {values.size} values, expected {frames} x {num_channels}")
    return BvhMotion(names, parents, np.stack(offsets), channels, frame_time,
                     values.reshape(frames, num_channels))


def bvh_forward_kinematics(bvh: BvhMotion) -> np.ndarray:
    """Joint world positions (F, J, 3) in file units from a parsed BVH."""
    frames = bvh.motion.shape[0]
    num_joints = len(bvh.names)
    rotations = np.zeros((frames, num_joints, 3, 3))
    positions = np.zeros((frames, num_joints, 3))
    column = 0
    local_rot = np.tile(np.eye(3), (frames, num_joints, 1, 1))
    local_pos = np.zeros((frames, num_joints, 3))
    for j, chans in enumerate(bvh.channels):
        values = bvh.motion[:, column:column + len(chans)]
        column += len(chans)
        rot_axes = [c[0].upper() for c in chans if c.endswith("rotation")]
        rot_vals = np.stack([values[:, k] for k, c in enumerate(chans) if c.endswith("rotation")], -1) \
            if rot_axes else None
        if rot_axes:
            local_rot[:, j] = Rotation.from_euler("".join(rot_axes), rot_vals, degrees=True).as_matrix()
        local_pos[:, j] = bvh.offsets[j]
        for k, c in enumerate(chans):
            if c.endswith("position"):
                local_pos[:, j, "XYZ".index(c[0].upper())] = values[:, k]
    for j in range(num_joints):  # file order lists parents before children
        p = bvh.parents[j]
        if p < 0:
            rotations[:, j] = local_rot[:, j]
            positions[:, j] = local_pos[:, j]
        else:
            rotations[:, j] = rotations[:, p] @ local_rot[:, j]
            positions[:, j] = positions[:, p] + np.einsum("fij,fj->fi", rotations[:, p], local_pos[:, j])
    return positions
