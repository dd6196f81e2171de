"""BVH files of any skeleton, retargeted onto the SMPL 24-joint tree by joint-name mapping.

Format (the Biovision BVH description, as in the bvhtoolbox and CMU BVH files): HIERARCHY with
ROOT / JOINT / End Site blocks (OFFSET x y z, CHANNELS n ...), then MOTION with "Frames:",
"Frame Time:" and one line of channel values per frame. Rotation channels are Euler angles in
degrees applied in the listed order (R = R_1 R_2 R_3 for "Zrotation Xrotation Yrotation").
Assumed, as in most BVH exports: y-up, the rest pose faces +z.

Retargeting, per SMPL body joint j mapped to BVH joint b (names matched after removing
prefixes such as "mixamorig:", case-insensitive, `_ALIASES`):
- BVH global rotations G_b(t) come from the BVH's own forward kinematics;
- a constant rest correction C_j turns the SMPL rest bone (j -> its first child) into the BVH
  rest bone (b -> the mapped child), so different rest poses (T-pose vs arms down) retarget;
  joints without a mapped child reuse their parent's correction;
- SMPL global rotation Q_j(t) = G_b(t) C_j; local = Q_parent^T Q_j; unmapped SMPL joints
  inherit their parent's global rotation (identity local rotation);
- root translation: BVH hips position in metres, scaled by SMPL/BVH leg length so the feet
  reach the floor, minus the SMPL rest pelvis (transl is the body-model parameter).
Bone directions therefore match the BVH for every mapped limb (tested); twist about a bone is
taken from the BVH only up to the rest correction (a minimal rotation), the usual limitation of
name-based retargeting.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from genmo_jax.data import schema
from genmo_jax.data.converters import common

DATASET = "bvh"

# SMPL joint -> BVH name candidates (lower case, no separators), first found wins.
_ALIASES = {
    "pelvis": ["hips", "hip", "pelvis", "root"],
    "left_hip": ["leftupleg", "lefthip", "leftthigh", "leftupperleg", "lhip", "lthigh"],
    "right_hip": ["rightupleg", "righthip", "rightthigh", "rightupperleg", "rhip", "rthigh"],
    "spine1": ["spine", "chest", "abdomen", "spine1", "lowerback"],
    "left_knee": ["leftleg", "leftknee", "leftshin", "leftlowerleg", "lknee", "lshin"],
    "right_knee": ["rightleg", "rightknee", "rightshin", "rightlowerleg", "rknee", "rshin"],
    "spine2": ["spine1", "chest2", "spine2", "chest"],
    "left_ankle": ["leftfoot", "leftankle", "lfoot", "lankle"],
    "right_ankle": ["rightfoot", "rightankle", "rfoot", "rankle"],
    "spine3": ["spine2", "chest3", "spine3", "upperchest"],
    "left_foot": ["lefttoebase", "lefttoe", "lefttoes", "ltoe"],
    "right_foot": ["righttoebase", "righttoe", "righttoes", "rtoe"],
    "neck": ["neck", "neck1"],
    "left_collar": ["leftcollar", "leftclavicle", "lcollar", "lclavicle"],
    "right_collar": ["rightcollar", "rightclavicle", "rcollar", "rclavicle"],
    "head": ["head"],
    "left_shoulder": ["leftarm", "leftupperarm", "lshoulder", "lupperarm"],
    "right_shoulder": ["rightarm", "rightupperarm", "rshoulder", "rupperarm"],
    "left_elbow": ["leftforearm", "leftelbow", "leftlowerarm", "lelbow", "lforearm"],
    "right_elbow": ["rightforearm", "rightelbow", "rightlowerarm", "relbow", "rforearm"],
    "left_wrist": ["lefthand", "leftwrist", "lhand", "lwrist"],
    "right_wrist": ["righthand", "rightwrist", "rhand", "rwrist"],
}
# First SMPL child of each body joint (the bone used for the rest correction).
_SMPL_CHILD = {0: 3, 1: 4, 2: 5, 3: 6, 4: 7, 5: 8, 6: 9, 7: 10, 8: 11, 9: 12, 12: 15, 13: 16,
               14: 17, 16: 18, 17: 19, 18: 20, 19: 21}


class Bvh:
    """A parsed BVH: joint names, parents, offsets (J, 3), channels, motion (F, C), frame time.

    End Sites are kept as joints named "<parent>_end" with no channels.
    """

    def __init__(self, path: str | Path):
        self.path = str(path)
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        if "MOTION" not in text or "HIERARCHY" not in text:
            raise ValueError(f"{self.path!r}: not a BVH file (HIERARCHY / MOTION missing)")
        head, motion = text.split("MOTION", 1)
        self.names, self.parents, self.offsets, self.channels = [], [], [], []
        stack, pending = [], None
        tokens = head.split()
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token in ("ROOT", "JOINT"):
                pending = tokens[i + 1]
                i += 2
            elif token == "End":
                pending = f"{self.names[stack[-1]]}_end"
                i += 2
            elif token == "{":
                self.names.append(pending)
                self.parents.append(stack[-1] if stack else -1)
                self.offsets.append(np.zeros(3))
                self.channels.append([])
                stack.append(len(self.names) - 1)
                i += 1
            elif token == "}":
                stack.pop()
                i += 1
            elif token == "OFFSET":
                self.offsets[stack[-1]] = np.asarray(tokens[i + 1:i + 4], np.float64)
                i += 4
            elif token == "CHANNELS":
                count = int(tokens[i + 1])
                self.channels[stack[-1]] = tokens[i + 2:i + 2 + count]
                i += 2 + count
            else:
                i += 1
        self.offsets = np.stack(self.offsets)
        self.parents = np.asarray(self.parents)
        frames = re.search(r"Frames:\s*(\d+)", motion)
        frame_time = re.search(r"Frame Time:\s*([0-9.eE+-]+)", motion)
        if not frames or not frame_time:
            raise ValueError(f"{self.path!r}: 'Frames:' or 'Frame Time:' missing")
        self.frame_time = float(frame_time.group(1))
        values = motion[frame_time.end():].split()
        num_channels = sum(len(c) for c in self.channels)
        num_frames = int(frames.group(1))
        if len(values) < num_frames * num_channels:
            raise ValueError(f"{self.path!r}: {len(values)} motion values, expected "
                             f"{num_frames} frames x {num_channels} channels")
        self.motion = np.asarray(values[:num_frames * num_channels],
                                 np.float64).reshape(num_frames, num_channels)

    def forward_kinematics(self) -> tuple[np.ndarray, np.ndarray]:
        """Global rotations (F, J, 3, 3) and positions (F, J, 3) in the file's units."""
        num_frames, num_joints = self.motion.shape[0], len(self.names)
        rotations = np.zeros((num_frames, num_joints, 3, 3))
        positions = np.zeros((num_frames, num_joints, 3))
        column = 0
        for joint in range(num_joints):
            channels = self.channels[joint]
            values = self.motion[:, column:column + len(channels)]
            column += len(channels)
            local_position = np.tile(self.offsets[joint], (num_frames, 1))
            axes = "".join(c[0].upper() for c in channels if c.endswith("rotation"))
            angles = np.stack([values[:, k] for k, c in enumerate(channels)
                               if c.endswith("rotation")], -1) if axes else None
            for k, channel in enumerate(channels):
                if channel.endswith("position"):
                    local_position[:, "XYZ".index(channel[0].upper())] += values[:, k]
            local = Rotation.from_euler(axes, angles, degrees=True).as_matrix() if axes \
                else np.tile(np.eye(3), (num_frames, 1, 1))
            parent = self.parents[joint]
            if parent < 0:
                rotations[:, joint], positions[:, joint] = local, local_position
            else:
                rotations[:, joint] = rotations[:, parent] @ local
                positions[:, joint] = positions[:, parent] + np.einsum(
                    "fij,fj->fi", rotations[:, parent], local_position)
        return rotations, positions


def _clean(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.split(":")[-1].lower())


def joint_mapping(names: list[str]) -> dict[int, int]:
    """SMPL body joint index (0..21) -> BVH joint index, by name (see `_ALIASES`)."""
    cleaned = {_clean(n): i for i, n in enumerate(names) if not n.endswith("_end")}
    mixamo_like = "leftarm" in cleaned       # there "LeftShoulder" is the clavicle
    mapping, used = {}, set()
    for smpl_index, smpl_name in enumerate(common.SMPL_JOINT_NAMES[:22]):
        candidates = list(_ALIASES[smpl_name])
        side = smpl_name.split("_")[0]
        if smpl_name.endswith("collar") and mixamo_like:
            candidates.insert(0, f"{side}shoulder")
        if smpl_name.endswith("_shoulder") and not mixamo_like:
            candidates.insert(0, f"{side}shoulder")
        for candidate in candidates:
            if candidate in cleaned and cleaned[candidate] not in used:
                mapping[smpl_index] = cleaned[candidate]
                used.add(cleaned[candidate])
                break
    for required in (0, 1, 2, 4, 5):
        if required not in mapping:
            raise ValueError(f"BVH joint names {names[:8]}...: no joint found for SMPL "
                             f"{common.SMPL_JOINT_NAMES[required]!r}")
    return mapping


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation matrix taking direction a to direction b."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis = np.cross(a, b)
    sin, cos = np.linalg.norm(axis), float(np.dot(a, b))
    if sin < 1e-9:
        if cos > 0:
            return np.eye(3)
        perpendicular = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
        return Rotation.from_rotvec(np.pi * perpendicular / np.linalg.norm(perpendicular)) \
            .as_matrix()
    return Rotation.from_rotvec(axis / sin * np.arctan2(sin, cos)).as_matrix()


def _descendant_towards(bvh: Bvh, joint: int, target: int) -> bool:
    while target >= 0:
        if target == joint:
            return True
        target = bvh.parents[target]
    return False


def retarget(bvh: Bvh, rest_joints: np.ndarray, unit_scale: float | None = None) -> dict:
    """BVH -> SMPL params (file frame rate): global_orient (F, 3), body_pose (F, 63),
    transl (F, 3) metres, y-up; plus 'mapping' and 'scale' (BVH units -> metres)."""
    mapping = joint_mapping(bvh.names)
    global_bvh, positions = bvh.forward_kinematics()
    rest_positions = np.zeros_like(bvh.offsets)
    for joint in range(len(bvh.names)):
        parent = bvh.parents[joint]
        rest_positions[joint] = bvh.offsets[joint] + (rest_positions[parent] if parent >= 0
                                                      else 0)
    corrections = np.tile(np.eye(3), (22, 1, 1))
    for smpl_joint in range(22):
        child = _SMPL_CHILD.get(smpl_joint)
        while child is not None and child not in mapping:  # skip unmapped (spine3 -> neck)
            child = _SMPL_CHILD.get(child)
        if smpl_joint in mapping and child in mapping and \
                _descendant_towards(bvh, mapping[smpl_joint], mapping[child]):
            bvh_bone = rest_positions[mapping[child]] - rest_positions[mapping[smpl_joint]]
            smpl_bone = rest_joints[child] - rest_joints[smpl_joint]
            corrections[smpl_joint] = _min_rotation(smpl_bone, bvh_bone)
        elif smpl_joint > 0:
            corrections[smpl_joint] = corrections[common.SMPL_PARENTS[smpl_joint]]
    num_frames = bvh.motion.shape[0]
    smpl_global = np.zeros((num_frames, 22, 3, 3))
    for smpl_joint in range(22):
        parent = common.SMPL_PARENTS[smpl_joint]
        if smpl_joint in mapping:
            smpl_global[:, smpl_joint] = global_bvh[:, mapping[smpl_joint]] @ \
                corrections[smpl_joint]
        else:
            smpl_global[:, smpl_joint] = smpl_global[:, parent]
    local = smpl_global.copy()
    for smpl_joint in range(1, 22):
        parent = common.SMPL_PARENTS[smpl_joint]
        local[:, smpl_joint] = np.swapaxes(smpl_global[:, parent], -1, -2) @ \
            smpl_global[:, smpl_joint]
    # Leg length (hip -> knee -> ankle) fixes units and proportions in one factor.
    def leg(points, hip, knee, ankle):
        return np.linalg.norm(points[knee] - points[hip]) + \
            np.linalg.norm(points[ankle] - points[knee])
    bvh_leg = leg(rest_positions, mapping[1], mapping[4], mapping.get(7, mapping[4]))
    smpl_leg = leg(rest_joints, 1, 4, 7 if 7 in mapping else 4)
    scale = smpl_leg / bvh_leg if unit_scale is None else unit_scale
    pelvis = positions[:, mapping[0]] * scale
    axis_angle = common.matrix_to_aa(local)
    return dict(global_orient=axis_angle[:, 0], body_pose=axis_angle[:, 1:].reshape(-1, 63),
                transl=pelvis - rest_joints[0], mapping=mapping, scale=scale,
                bvh_positions=positions)


def items(src: str, **_) -> list[tuple[str, str]]:
    found = [(common.relative_name(p, src), str(p)) for p in sorted(Path(src).rglob("*.bvh"))]
    found += [(common.relative_name(p, src), str(p)) for p in sorted(Path(src).rglob("*.BVH"))]
    return found


def convert_item(name: str, path: str, rest_joints_fn, fps: float | None = None, **_):
    bvh = Bvh(path)
    rest = np.asarray(rest_joints_fn(np.zeros(schema.NUM_BETAS), "neutral"))
    params = retarget(bvh, rest)
    src_fps = fps or 1.0 / bvh.frame_time
    pose = np.concatenate([params["global_orient"][:, None],
                           params["body_pose"].reshape(-1, 21, 3)], 1)
    pose, transl = common.resample(pose, params["transl"], src_fps)
    return common.world_record(source=DATASET, name=name, rest_joints_fn=rest_joints_fn,
                               global_orient=pose[:, 0], body_pose=pose[:, 1:].reshape(-1, 63),
                               transl=transl, betas=None)
