"""Per-sample training simulation in numpy (Grain worker processes): crop with speed
augmentation, camera trajectory, 2D keypoints with WHAM-style noise and occlusions, bbox,
condition masks. SPEC B 5.1 (AMASS recipe), 5.2, 5.3, 2.7.

Entry point: `make_training_sample(record, rng, config=None) -> dict` of fixed-shape arrays
(`SimulationConfig.length` = L frames, 120 by default); see its docstring for every key.

Choices (where the release cannot be reproduced exactly here, or SPEC leaves a choice):
- Intrinsics: 1000 x 1000 virtual sensor, principal point (500, 500), focal 1415.3 px: GVHMR's
  `create_camera_sensor(1000, 1000, 43.3)` semantics (43.3 mm 35mm-equivalent focal mapped via
  the diagonal), which the released checkpoint was presumably trained with (SPEC B 5.3). The
  FoV tolerance of the post-fix uses GVHMR's (1000, 1000, 24) -> 784.5 px.
- COCO-17 keypoints come from the body model's COCO regressor when `coco_body` names a
  24-joint body file that has one (`"open"` = the built-in open body; `coco_body.py` skins only
  the regressor's vertices, in numpy). Otherwise (default) from the SMPL joints (shoulders 16/17, elbows 18/19, wrists 20/21,
  hips 1/2, knees 4/5, ankles 7/8) and, for the face, fixed offsets in the head joint's frame
  (x left, y up, z forward, metres): nose (0, 0.02, 0.11), eyes (+-0.03, 0.05, 0.09), ears
  (+-0.075, 0.03, 0). Records carry joints, not vertices, so no body model is needed in workers.
- WHAM noise statistics (`coco_aug_dict.pth`) are not available: per-joint constants below
  (bias 1 cm, jitter 5 mm, rare peaks of 5 cm) stand in for them.
- The bbox comes from the projected joints, enlarged by 1.1 for the skin the joints lack; for
  records with their own 2D keypoints (Motion-X) from the visible keypoints. Records without a
  camera get the virtual sensor's K, also when their keypoints come from a real image whose
  intrinsics are unknown (then f_cliffcam is relative to the virtual principal point).
- A COCO keypoint with two parents (the nose) is hidden when both parents are hidden.
- Mode-dependent dropouts (image drop 0.5 in diffusion mode, CFG drops of text/music/audio 0.1,
  per-frame `uncond_prob`) are re-sampled per mode in the train step (SPEC B 4.1), not here.
  Here: availability masks from the data, the camera condition removed for samples with text,
  music or audio (mask_cam_prob = 1), and frames with <= 3 visible joints losing 2D, image and
  bbox info.
- Betas noise (AMASS recipe) is not applied: it would change the skeleton the record's joints
  were computed with.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from genmo_jax.body.skeletons import COCO17_PARENTS
from genmo_jax.data.coco_body import load_coco_body

IMAGE_SIZE = 1000
FOCAL_GVHMR = 43.3 / np.hypot(36.0, 24.0) * np.hypot(IMAGE_SIZE, IMAGE_SIZE)   # 1415.3 px
FOCAL_TOLERANCE = 24.0 / np.hypot(36.0, 24.0) * np.hypot(IMAGE_SIZE, IMAGE_SIZE)  # 784.5 px
MIN_CAMERA_DEPTH = 0.5
MAX_CAPTIONS = 4

_COCO_FROM_SMPL = {5: 16, 6: 17, 7: 18, 8: 19, 9: 20, 10: 21, 11: 1, 12: 2, 13: 4, 14: 5,
                   15: 7, 16: 8}
_FACE_OFFSETS = np.array([[0.0, 0.02, 0.11], [0.03, 0.05, 0.09], [-0.03, 0.05, 0.09],
                          [0.075, 0.03, 0.0], [-0.075, 0.03, 0.0]])
_HEAD, _SMPL_PARENTS_TO_HEAD = 15, (0, 3, 6, 9, 12, 15)
# Propagation order of the COCO tree: parents before children.
_COCO_ORDER = (5, 6, 11, 12, 7, 8, 9, 10, 13, 14, 15, 16, 0, 1, 2, 3, 4)
CAMERA_TYPES = ("static", "random", "track", "trackrotate", "trackpush", "trackpull")
CAMERA_PROBS = (0.40, 0.25, 0.15, 0.10, 0.05, 0.05)


@dataclasses.dataclass(frozen=True)
class SimulationConfig:
    """Knobs of the simulation (defaults = the release's AMASS recipe, SPEC B 5.1-5.3)."""

    length: int = 120
    speed_augmentation: bool = True
    speed_range: tuple = (1 / 1.5, 1.5)
    random_yaw: bool = True
    camera: str = "v11"                  # "v11" (all trajectory types) or "static"
    # Camera of samples whose camera condition is removed (captioned, music, audio):
    # "v11" = as `camera` (the release); "static" = a static camera, so that the GV yaw the
    # model must generate without a camera cue is the body's world yaw ("turns left" in GV is
    # not mixed with a camera orbit the model cannot see); "front" = static and looking at the
    # body's front in the first frame, so the first frame's GV heading is fixed (as text-to-motion
    # data fixes the first frame's facing) and a turn is visible in the mean over samples.
    generation_camera: str = "v11"
    focal_length: float = FOCAL_GVHMR
    noise: bool = True
    joint_drop_prob: float = 0.03
    legs_hidden_prob: float = 0.03
    frame_drop_prob: float = 0.75
    body_drop_prob: float = 0.75
    coco_body: str = ""                  # "" = COCO from SMPL joints; "open" / a path = the
                                         # body's coco_regressor (`coco_body.py`)

    @classmethod
    def from_config(cls, config: Any = None) -> "SimulationConfig":
        """From None, a mapping or a ConfigDict (unknown keys are an error)."""
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        items = dict(config.items() if hasattr(config, "items") else config)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(items) - names)
        if unknown:
            raise ValueError(f"unknown simulation config field(s) {unknown}; expected {sorted(names)}")
        if int(items.get("length", cls.length)) < 2:
            raise ValueError(f"simulation config field 'length' must be >= 2, got "
                             f"{items['length']}")
        low, high = items.get("speed_range", cls.speed_range)
        if not 0 < low <= high:
            raise ValueError(f"simulation config field 'speed_range' must be 0 < low <= high, "
                             f"got {(low, high)}")
        for field, allowed in (("camera", ("v11", "static")),
                               ("generation_camera", ("v11", "static", "front"))):
            if field in items and items[field] not in allowed:
                raise ValueError(f"simulation config field {field!r} is {items[field]!r}, "
                                 f"expected one of {allowed}")
        return cls(**items)


def intrinsics(focal_length: float = FOCAL_GVHMR) -> np.ndarray:
    """(3, 3) pixels: the 1000 x 1000 virtual sensor, principal point at its centre."""
    return np.array([[focal_length, 0.0, IMAGE_SIZE / 2], [0.0, focal_length, IMAGE_SIZE / 2],
                     [0.0, 0.0, 1.0]])


# ------------------------------------------------------------------------------ time crop

def _resample(values, times):
    """Linear interpolation of (T, ...) at fractional frame indices `times` (L,)."""
    low = np.clip(np.floor(times).astype(int), 0, values.shape[0] - 1)
    high = np.minimum(low + 1, values.shape[0] - 1)
    w = (times - low).reshape((-1,) + (1,) * (values.ndim - 1))
    return (1 - w) * values[low] + w * values[high]


def _resample_rotvecs(rotvecs, times):
    """(T, J, 3) rotation vectors at fractional frames `times` (L,) -> (L, J, 3).

    Normalised linear interpolation of sign-aligned quaternions between neighbouring frames
    (equal to slerp up to O(angle^3) of one frame's rotation step; vectorised over joints).
    """
    num, joints = rotvecs.shape[0], rotvecs.shape[1]
    quats = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_quat().reshape(num, joints, 4)
    low = np.clip(np.floor(times).astype(int), 0, num - 1)
    high = np.minimum(low + 1, num - 1)
    q0, q1 = quats[low], quats[high]
    q1 = np.where(np.sum(q0 * q1, -1, keepdims=True) < 0, -q1, q1)
    w = (times - low)[:, None, None]
    q = (1 - w) * q0 + w * q1
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return Rotation.from_quat(q.reshape(-1, 4)).as_rotvec().reshape(len(times), joints, 3)


def crop_times(num_frames, config: SimulationConfig, rng):
    """Fractional source frames (length,) of a crop, and the number of valid output frames.

    Speed augmentation: a raw window of 120 * s frames, s ~ U(speed_range), resampled to 120
    output frames. Short clips give fewer valid frames; padding repeats the last valid frame.
    """
    speed = rng.uniform(*config.speed_range) if config.speed_augmentation else 1.0
    window = config.length * speed                       # source frames spanned by the output
    if num_frames - 1 >= window:
        # without speed augmentation the crop starts on a source frame (no interpolation)
        start = rng.uniform(0, num_frames - 1 - window) if config.speed_augmentation else \
            float(rng.integers(0, int(num_frames - window)))
        valid = config.length
    else:
        start = 0.0
        valid = max(1, min(config.length, int(np.floor((num_frames - 1) / speed)) + 1))
    times = start + speed * np.minimum(np.arange(config.length), valid - 1)
    return np.clip(times, 0, num_frames - 1), valid, speed


# ---------------------------------------------------------------------------------- camera

def _noisy_linspace(rng, num):
    """0 -> 1 over num frames with interior steps jittered by +-20 % of a step (monotone)."""
    steps = 1.0 + rng.uniform(-0.2, 0.2, max(num - 1, 1))
    u = np.concatenate([[0.0], np.cumsum(steps)])[:num]
    return u / max(u[-1], 1e-9)


def _smooth_impulse(rng, num, scale):
    """(num, 3) smooth bump (Hann window over 20 frames at a random start) of N(0, scale^2)."""
    out = np.zeros((num, 3))
    width = min(20, num)
    start = int(rng.integers(0, max(num - width, 0) + 1))
    out[start:start + width] = np.hanning(width)[:, None] * rng.normal(0, scale, 3)
    return out


def _initial_camera(rng, root0, focal, facing=None):
    yaw = rng.uniform(0, 2 * np.pi)   # drawn in every mode: the same random stream after it
    if facing is not None:   # optical axis (sin yaw, 0, cos yaw) = -facing: look at the front
        yaw = np.arctan2(-facing[0], -facing[2])
    pitch = np.clip(rng.normal(np.pi / 36, np.pi / 8), -np.pi / 2, np.pi / 2)
    roll = rng.normal(0, np.pi / 24)
    rotation = (Rotation.from_rotvec([0, 0, roll]) * Rotation.from_rotvec([pitch, 0, 0])
                * Rotation.from_rotvec([0, yaw, 0])).as_matrix() @ np.diag([-1.0, -1.0, 1.0])
    half = IMAGE_SIZE / 2 / focal
    if rng.random() < 0.4:
        tz = rng.uniform(1, 6)
        tx, ty = rng.uniform(-1, 1) * 0.7 * half * tz, rng.uniform(-1, 1) * 0.5 * half * tz
    else:
        tz = rng.uniform(4, 12)
        tx = np.clip(rng.normal(0, 1.6), -0.9 * half * tz, 0.9 * half * tz)
        ty = np.clip(rng.normal(0, 0.8), -0.9 * half * tz, 0.9 * half * tz)
    return rotation, np.array([tx, ty, tz]) - rotation @ root0


def simulate_camera(rng, root, joints, config: SimulationConfig, facing=None):
    """World-to-camera trajectory for a motion: R_w2c (L, 3, 3), t_w2c (L, 3), camera type.

    root (L, 3) world pelvis, joints (L, J, 3) world joints (for the depth / FoV post-fix);
    facing: None (random camera heading) or a horizontal unit vector (3,) the first camera
    looks against (it sees that side of the body).
    """
    num = root.shape[0]
    rot0, t0 = _initial_camera(rng, root[0], config.focal_length, facing)
    kind = "static" if config.camera == "static" else CAMERA_TYPES[
        rng.choice(len(CAMERA_TYPES), p=CAMERA_PROBS)]
    rotations = np.repeat(rot0[None], num, axis=0)
    centre0 = -rot0.T @ t0                       # camera centre in the world
    centres = np.repeat(centre0[None], num, axis=0)
    if kind != "static":
        u = _noisy_linspace(rng, num)
        scale = 1.0 if kind == "random" else 0.5
        end_rot = Rotation.from_rotvec(rng.uniform(-1, 1, 3) * np.array(
            [np.pi / 6, np.pi / 3, np.pi / 6]) * scale)
        delta = Slerp([0, 1], Rotation.concatenate([Rotation.identity(), end_rot]))(u)
        rotations = delta.as_matrix() @ rot0
        if kind == "random":
            displacement = rng.normal(0, 1, 3) * np.array([1.0, 0.25, 1.0])
            # the subject moves by `displacement` in the camera frame
            t = t0 + u[:, None] * displacement
            centres = -np.einsum("lji,lj->li", rotations, t)
        else:
            offset = centre0 - root[0]
            end_offset = rng.normal(0, 0.5, 3)
            if kind == "trackrotate":
                orbit = Rotation.from_rotvec(np.outer(u, [0, 1, 0]) * rng.normal(0, np.pi))
                tilt = Rotation.from_rotvec(np.outer(u, rng.normal(0, np.pi / 16, 3) * [1, 0, 1]))
                offsets = orbit.apply(offset)
                rotations = tilt.as_matrix() @ rot0 @ orbit.inv().as_matrix()
            elif kind in ("trackpush", "trackpull"):
                factor = (-0.5 if kind == "trackpush" else 1.0) * np.clip(
                    1 + rng.normal(0, 0.1), 0.67, 1.5)
                offsets = offset * (1 + factor * u)[:, None]
            else:
                offsets = np.repeat(offset[None], num, axis=0)
            centres = root + offsets + u[:, None] * end_offset
        # step noise: one smooth impulse (translation and/or rotation) + per-frame jitter
        impulse = rng.choice(4, p=[0.2, 0.2, 0.1, 0.5])
        if impulse in (0, 2):
            centres = centres + _smooth_impulse(rng, num, 0.15)
        if impulse in (1, 2):
            rotations = Rotation.from_rotvec(_smooth_impulse(rng, num, np.pi / 36)).as_matrix() \
                @ rotations
        centres = centres + rng.normal(0, 0.0025, (num, 3))
    translations = -np.einsum("lij,lj->li", rotations, centres)
    # post-fix: move the camera back along its axis until every joint is >= 0.5 m deep and the
    # root is inside the FoV tolerance
    cam_joints = np.einsum("lij,lkj->lki", rotations, joints) + translations[:, None]
    cam_root = np.einsum("lij,lj->li", rotations, root) + translations
    tolerance = IMAGE_SIZE / 2 / FOCAL_TOLERANCE
    need_depth = MIN_CAMERA_DEPTH + 1e-3 - cam_joints[..., 2].min()
    need_fov = (np.abs(cam_root[:, :2]).max(-1) / tolerance - cam_root[:, 2]).max()
    translations[:, 2] += max(0.0, need_depth, need_fov)
    return rotations, translations, kind


def cam_angvel(rotations, valid_len=None):
    """(L, 6): 6D (first two rows) of R_w2c[t+1] R_w2c[t]^T, last frame repeated; with
    `valid_len`, the last valid frame repeats its predecessor (padding never leaks in)."""
    num = len(rotations)
    valid_len = num if valid_len is None else int(valid_len)
    if num < 2 or valid_len < 2:
        return np.tile([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], (num, 1))
    step = rotations[1:] @ np.swapaxes(rotations[:-1], -1, -2)
    source = np.clip(np.minimum(np.arange(num), valid_len - 2), 0, num - 2)
    return step[source][:, :2, :].reshape(-1, 6)


def r_c2gv(rotations):
    """(L, 3, 3) camera -> gravity-view rotation (y = up in camera coords, z = optical axis on
    the horizontal plane, x = y x z; CONVENTIONS.md). A camera looking straight up or down
    takes its heading from the camera x axis (z = x_cam x y), as `motion.gravity_view`."""
    up = rotations[:, :, 1]                       # world +y in camera coordinates
    z = np.array([0.0, 0.0, 1.0]) - up * up[:, 2:3]
    norm = np.linalg.norm(z, axis=-1, keepdims=True)
    fallback = np.cross(np.array([1.0, 0.0, 0.0]), up)
    z = np.where(norm < 1e-9, fallback, z)
    z /= np.maximum(np.linalg.norm(z, axis=-1, keepdims=True), 1e-12)
    x = np.cross(up, z)
    return np.stack([x, up, z], axis=1)


# --------------------------------------------------------------------------------- 2D obs

def coco17_from_smpl(joints, head_rotmat):
    """(L, 24, 3) SMPL joints + (L, 3, 3) global head rotation -> (L, 17, 3) COCO-17 points."""
    coco = np.zeros(joints.shape[:-2] + (17, 3))
    for coco_index, smpl_index in _COCO_FROM_SMPL.items():
        coco[..., coco_index, :] = joints[..., smpl_index, :]
    coco[..., :5, :] = joints[..., None, _HEAD, :] + np.einsum("lij,kj->lki", head_rotmat,
                                                               _FACE_OFFSETS)
    return coco


def head_rotation(global_orient, body_pose):
    """Global rotation (L, 3, 3) of the SMPL head joint from axis-angle params."""
    rotation = Rotation.from_rotvec(global_orient)
    pose = body_pose.reshape(-1, 21, 3)
    for joint in _SMPL_PARENTS_TO_HEAD[1:]:
        rotation = rotation * Rotation.from_rotvec(pose[:, joint - 1])
    return rotation.as_matrix()


def project(points, K):
    """Pinhole projection of camera-frame points (L, J, 3) with per-frame K (L, 3, 3) pixels
    -> (L, J, 2); depth clamped >= 0.3 m."""
    depth = np.maximum(points[..., 2:3], 0.3)
    focal = np.stack([K[:, 0, 0], K[:, 1, 1]], -1)[:, None]
    centre = np.stack([K[:, 0, 2], K[:, 1, 2]], -1)[:, None]
    return points[..., :2] / depth * focal + centre


def wham_noise(rng, points, noise=True):
    """WHAM-style 3D noise on (L, 17, 3) camera-frame keypoints: a per-clip bias, rare
    low-frequency peaks and per-frame jitter (constants: module docstring)."""
    if not noise:
        return points
    num, joints = points.shape[:2]
    bias = rng.normal(0, 0.01, (1, joints, 3))
    peaks = (rng.random((num, joints, 1)) < 0.005) * rng.normal(0, 0.05, (num, joints, 3))
    jitter = rng.normal(0, 0.005, (num, joints, 3))
    return points + bias + peaks + jitter


def propagate_coco(visible):
    """Hides COCO keypoints whose parents are all hidden (tree of SPEC B 17): (L, 17) bool."""
    visible = visible.copy()
    for joint in _COCO_ORDER:
        parents = COCO17_PARENTS[joint]
        if parents:
            visible[:, joint] &= np.any(visible[:, list(parents)], axis=1)
    return visible


def simulate_visibility(rng, num, config: SimulationConfig):
    """(num, 17) bool visibility: random joint drops, hidden legs, dropped frames and body
    parts, each propagated down the COCO tree (SPEC B 5.2 steps 6-8)."""
    visible = rng.random((num, 17)) >= config.joint_drop_prob
    if rng.random() < config.legs_hidden_prob and num > 90:
        start, length = int(rng.integers(0, num - 90)), int(rng.integers(30, 90))
        visible[start:start + length, 11:] = False
    if rng.random() < config.frame_drop_prob:
        for _ in range(int(rng.integers(1, 4))):
            start, length = int(rng.integers(0, num)), int(rng.integers(1, 31))
            visible[start:start + length] = False
    if rng.random() < config.body_drop_prob:
        for _ in range(int(rng.integers(1, 4))):
            start, length = int(rng.integers(0, num)), int(rng.integers(1, 31))
            hidden = rng.random(17) < 0.25
            visible[start:start + length] &= ~hidden
    return propagate_coco(visible)


def bbox_from_points(rng, points_2d, jitter=True):
    """(L, 3) (cx, cy, size) pixels: tight box of (L, K, 2) points, aspect 192:256, x 1.2 x 1.1
    (joints lack skin), then per-frame scale and centre jitter (SPEC B 5.2 step 2)."""
    low, high = points_2d.min(axis=1), points_2d.max(axis=1)
    centre = (low + high) / 2
    width, height = high[:, 0] - low[:, 0], high[:, 1] - low[:, 1]
    size = np.maximum(height, width * 256 / 192) * 1.2 * 1.1
    if jitter:
        scale = rng.uniform(1.05, 1.35, len(size))
        base = size / 1.2
        centre = centre + (base / 2 * (scale - 1))[:, None] * rng.uniform(-0.8, 0.8, (len(size), 2))
        size = base * scale
    return np.concatenate([centre, size[:, None]], axis=-1)


def normalize_keypoints(kp2d, visible, bbox):
    """bbox-normalised obs (L, 17, 3): 2 (xy - c) / s and visibility; points outside the bbox
    square or invisible become (0, 0, 0) (SPEC B 2.2)."""
    size = np.maximum(bbox[:, None, 2:3], 1e-2)
    xy = 2 * (kp2d - bbox[:, None, :2]) / size
    visible = visible & np.all(np.abs(xy) <= 1.0, axis=-1)
    obs = np.concatenate([xy, visible[..., None]], axis=-1) * visible[..., None]
    return obs.astype(np.float32), visible


# ------------------------------------------------------------------------------ the sample

def _yaw_rotation(rng, enabled):
    return Rotation.from_rotvec([0.0, rng.uniform(0, 2 * np.pi) if enabled else 0.0, 0.0])


def make_training_sample(record: Mapping[str, np.ndarray], rng: np.random.Generator,
                         config: Any = None) -> dict[str, np.ndarray]:
    """One fixed-shape training sample from a schema record (`genmo_jax.data.schema`).

    rng: the worker's np.random.Generator (Grain `random_map`); config: `SimulationConfig`
    fields as a mapping / ConfigDict / None. L = config.length (120). Returns:

    length () int32 valid frames; valid (L,) bool; has_world_mask (L,) bool (valid world params).
    body_pose (L, 63), betas (L, 10): axis-angle rad / shape, shared by world and camera params.
    global_orient_w (L, 3) rad, transl_w (L, 3) m: world params (y-up, random yaw applied).
    global_orient_c (L, 3) rad, transl_c (L, 3) m: camera-frame params,
        t_c = R (t_w + o) + t - o with o = rest root joint.
    joints_w (L, 24, 3) m world joints; R_w2c (L, 3, 3), t_w2c (L, 3) m; K (L, 3, 3) px.
    R_c2gv (L, 3, 3); cam_angvel (L, 6) 6D of R[t+1] R[t]^T (last valid frame repeats the one
    before it).
    kp2d (L, 17, 3): COCO-17 pixels + visibility (0/1); bbox_xys (L, 3) px (cx, cy, size);
    obs (L, 17, 3): bbox-normalised keypoints + visibility (invisible = 0);
    f_cliffcam (L, 3): ((cx_b - cx) / f, (cy_b - cy) / f, size / f), 0 on occluded frames.
    img_feat (L, 1024), music_feat (L, 35), audio (L * 600,) float32 (zeros when absent).
    has_2d_mask, has_img_mask, has_cam_mask, has_music_mask, has_audio_mask (L,) bool;
    has_text () bool; caption_id (4,) int32 record caption indices (-1 = none) and
    caption_window (4, 2) int32 [start, end) output frames.
    flag_2d_only, flag_spv_incam_only, flag_invalid_contact () bool; speed () float32 source
    frames per output frame; camera_type () int32 index into CAMERA_TYPES (-1 = dataset camera).
    """
    cfg = SimulationConfig.from_config(config)
    num_src = int(np.shape(record["body_pose"])[0])
    times, valid_len, speed = crop_times(num_src, cfg, rng)
    length = cfg.length
    valid = np.arange(length) < valid_len

    body_pose = _resample_rotvecs(np.asarray(record["body_pose"], np.float64).reshape(
        num_src, 21, 3), times).reshape(length, 63)
    orient = _resample_rotvecs(np.asarray(record["global_orient"], np.float64)[:, None],
                               times)[:, 0]
    transl = _resample(np.asarray(record["transl"], np.float64), times)
    joints = _resample(np.asarray(record["joints_w"], np.float64), times)
    root_offset = joints[:, 0] - transl                       # o = rest root joint (FK of SMPL)

    has_world = not bool(record["flag_2d_only"])
    has_text = "caption_text" in record and len(record["caption_text"]) > 0
    # text / music / audio rows are generation rows: their camera condition is removed
    uncued = has_text or "music_feat" in record or "audio" in record
    yaw = _yaw_rotation(rng, cfg.random_yaw and "K" not in record and has_world)
    orient_w = (yaw * Rotation.from_rotvec(orient)).as_rotvec()
    joints_w = yaw.apply(joints.reshape(-1, 3)).reshape(joints.shape)
    transl_w = yaw.apply(transl + root_offset) - root_offset

    focal = cfg.focal_length
    if "K" in record:
        K = _resample(np.asarray(record["K"], np.float64), times)
        rot_w2c = Rotation.from_rotvec(_resample_rotvecs(Rotation.from_matrix(
            np.asarray(record["R_w2c"], np.float64)).as_rotvec()[:, None], times)[:, 0]).as_matrix()
        t_w2c = _resample(np.asarray(record["t_w2c"], np.float64), times)
        camera_type = -1
    else:
        camera_cfg, facing = cfg, None
        if uncued and cfg.generation_camera != "v11":
            camera_cfg = dataclasses.replace(cfg, camera="static")
            if cfg.generation_camera == "front":
                facing = Rotation.from_rotvec(orient_w[0]).as_matrix()[:, 2] * [1.0, 0.0, 1.0]
                facing /= max(np.linalg.norm(facing), 1e-9)
        rot_w2c, t_w2c, kind = simulate_camera(rng, joints_w[:, 0], joints_w, camera_cfg, facing)
        K = np.repeat(intrinsics(focal)[None], length, axis=0)
        camera_type = CAMERA_TYPES.index(kind)
    orient_c = (Rotation.from_matrix(rot_w2c) * Rotation.from_rotvec(orient_w)).as_rotvec()
    transl_c = np.einsum("lij,lj->li", rot_w2c, transl_w + root_offset) + t_w2c - root_offset
    if "global_orient_c" in record:            # the dataset's own camera-frame params win
        orient_c = _resample_rotvecs(np.asarray(record["global_orient_c"], np.float64)[:, None],
                                     times)[:, 0]
        transl_c = _resample(np.asarray(record["transl_c"], np.float64), times)

    # 2D keypoints: the dataset's where given, else projected from the (noisy) 3D joints
    if "kp2d" in record:
        kp = _resample(np.asarray(record["kp2d"], np.float64), times)
        kp2d, visible = kp[..., :2], (kp[..., 2] > 0.5) & _resample(
            np.asarray(record["mask_kp2d"], np.float64), times)[:, None].astype(bool)
    else:
        if cfg.coco_body:
            _, coco = load_coco_body(cfg.coco_body).joints_and_coco(
                record["betas"], orient, body_pose, transl)
            coco_w = yaw.apply(coco.reshape(-1, 3)).reshape(coco.shape)
        else:
            coco_w = coco17_from_smpl(joints_w,
                                      yaw.as_matrix() @ head_rotation(orient, body_pose))
        coco_c = np.einsum("lij,lkj->lki", rot_w2c, coco_w) + t_w2c[:, None]
        coco_c = wham_noise(rng, coco_c, cfg.noise)
        kp2d = project(coco_c, K)
        visible = coco_c[..., 2] >= 0.3
    visible &= simulate_visibility(rng, length, cfg) if cfg.noise else True
    if "bbox_xys" in record:
        bbox = _resample(np.asarray(record["bbox_xys"], np.float64), times)
    elif "kp2d" in record:
        # detections in the dataset's image: the box of the visible keypoints (invisible ones
        # replaced by the frame's visible mean, or the clip's when none is visible)
        weights = visible[..., None].astype(np.float64)
        clip_mean = (kp2d * weights).sum((0, 1)) / max(weights.sum(), 1.0)
        frame_mean = np.where(weights.sum(1) > 0, (kp2d * weights).sum(1)
                              / np.maximum(weights.sum(1), 1.0), clip_mean)
        points = np.where(visible[..., None], kp2d, frame_mean[:, None])
        bbox = bbox_from_points(rng, points, jitter=cfg.noise)
    else:
        joints_c = np.einsum("lij,lkj->lki", rot_w2c, joints_w) + t_w2c[:, None]
        points = np.concatenate([project(joints_c, K), kp2d], axis=1)
        bbox = bbox_from_points(rng, points, jitter=cfg.noise)
    obs, visible = normalize_keypoints(kp2d, visible, bbox)
    enough = visible.sum(-1) > 3

    def frames_mask(name):
        if name not in record:
            return np.zeros(length, bool)
        return _resample(np.asarray(record[name], np.float64), times) > 0.5

    has_img = frames_mask("mask_img_feat") & enough & valid
    has_music = np.full(length, "music_feat" in record) & valid
    has_audio = np.full(length, "audio" in record) & valid
    has_cam = valid & (not uncued)
    has_2d = enough & valid
    f_cliffcam = np.stack([(bbox[:, 0] - K[:, 0, 2]) / K[:, 0, 0],
                           (bbox[:, 1] - K[:, 1, 2]) / K[:, 1, 1], bbox[:, 2] / K[:, 0, 0]], -1)
    f_cliffcam *= has_2d[:, None]

    frame_index = np.floor(times).astype(int)
    img_feat = np.asarray(record["img_feat"], np.float32)[frame_index] if "img_feat" in record \
        else np.zeros((length, 1024), np.float32)
    music_feat = np.asarray(record["music_feat"], np.float32)[frame_index] \
        if "music_feat" in record else np.zeros((length, 35), np.float32)
    # Absent features are float32 zeros made once: no float64 temporaries or masking copies
    # of the (L, 1024) / (L * 600,) arrays (large allocations are page faults, i.e. system time).
    if "audio" in record:
        source_audio = np.asarray(record["audio"], np.float32)
        sample_times = (times[:, None] * 600 + speed * np.arange(600)[None]).reshape(-1)
        audio = np.interp(sample_times, np.arange(len(source_audio)), source_audio)
        audio = (audio * np.repeat(has_audio, 600)).astype(np.float32)
    else:
        audio = np.zeros(length * 600, np.float32)
    if "img_feat" in record:
        img_feat = img_feat * has_img[:, None]
    if "music_feat" in record:
        music_feat = music_feat * has_music[:, None]

    caption_id = np.full(MAX_CAPTIONS, -1, np.int32)
    caption_window = np.zeros((MAX_CAPTIONS, 2), np.int32)
    if has_text:
        first, last = times[0], times[valid_len - 1]
        count = 0
        for index, (start, end) in enumerate(np.asarray(record["caption_window"])):
            lo = int(np.ceil((max(start, first) - first) / speed))
            hi = min(int(np.ceil((min(end, last + 1) - first) / speed)), valid_len)
            if hi > lo and count < MAX_CAPTIONS:
                caption_id[count], caption_window[count] = index, (lo, hi)
                count += 1

    sample = dict(
        length=np.int32(valid_len), valid=valid, has_world_mask=frames_mask("mask_world") & valid,
        body_pose=body_pose, betas=np.repeat(np.asarray(record["betas"])[None], length, 0),
        global_orient_w=orient_w, transl_w=transl_w, global_orient_c=orient_c,
        transl_c=transl_c, joints_w=joints_w, R_w2c=rot_w2c, t_w2c=t_w2c, K=K,
        R_c2gv=r_c2gv(rot_w2c), cam_angvel=cam_angvel(rot_w2c, valid_len),
        kp2d=np.concatenate([kp2d, visible[..., None]], -1) * has_2d[:, None, None],
        bbox_xys=bbox, obs=obs * has_2d[:, None, None], f_cliffcam=f_cliffcam,
        img_feat=img_feat, music_feat=music_feat, audio=audio,
        has_2d_mask=has_2d, has_img_mask=has_img, has_cam_mask=has_cam,
        has_music_mask=has_music, has_audio_mask=has_audio, has_text=np.bool_(has_text),
        caption_id=caption_id, caption_window=caption_window,
        flag_2d_only=np.bool_(record["flag_2d_only"]),
        flag_spv_incam_only=np.bool_(record["flag_spv_incam_only"]),
        flag_invalid_contact=np.bool_(record["flag_invalid_contact"]),
        speed=np.float32(speed), camera_type=np.int32(camera_type))
    return {k: (v.astype(np.float32) if np.asarray(v).dtype == np.float64 else np.asarray(v))
            for k, v in sample.items()}
