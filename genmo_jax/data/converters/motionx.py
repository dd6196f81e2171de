"""Motion-X: text-labelled whole-body clips; with 2D keypoints they become 2D-only samples (A6).

Official layout (github.com/IDEA-Research/Motion-X README, "Dataset Download" and "Data
Loading"), reproduced:
    <src>/motion_data/smplx_322/<subset>/<seq>.npy  (F, 322): root_orient 0:3, pose_body 3:66,
        pose_hand 66:156, pose_jaw 156:159, face_expr 159:209, face_shape 209:309,
        trans 309:312, betas 312:322
    <src>/texts/semantic_labels/<subset>/<seq>.txt  one caption (the whole clip)
    <src>/keypoints/<subset>/<seq>.npy              2D keypoints (F, 133, 3) COCO-WholeBody
        (x, y, confidence) in pixels; the first 17 are COCO-17.
A clip with keypoints is stored as 2D-only (`flag_2d_only`, `mask_world` False: its SMPL-X fit
is a pseudo-label, SPEC A6); a clip without keypoints is stored as motion + text.
Uncertain: the keypoint file layout (Motion-X distributes its 2D whole-body annotations per
video; we read one (F, 133|17, 3) array per clip), the frame rate (`--fps`, default 30) and the
up axis of the world (`up="y"` default; "z" rotates like AMASS) vary between subsets.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genmo_jax.data import schema
from genmo_jax.data.converters import common

DATASET = "motionx"


def items(src: str, **_) -> list[tuple[str, dict]]:
    src = Path(src)
    motion_root = src / "motion_data" / "smplx_322"
    if not motion_root.is_dir():
        raise FileNotFoundError(f"Motion-X motion folder {str(motion_root)!r} missing")
    found = []
    for path in sorted(motion_root.rglob("*.npy")):
        name = common.relative_name(path, motion_root)
        found.append((name, dict(motion=str(path),
                                 text=str(src / "texts" / "semantic_labels" / f"{name}.txt"),
                                 keypoints=str(src / "keypoints" / f"{name}.npy"))))
    return found


def _resample_linear(array: np.ndarray, src_fps: float, num_dst: int) -> np.ndarray:
    times = np.arange(num_dst) / schema.FPS * src_fps
    lower = np.minimum(np.floor(times).astype(int), array.shape[0] - 2)
    frac = (times - lower).reshape(-1, *([1] * (array.ndim - 1)))
    return (1 - frac) * array[lower] + frac * array[lower + 1]


def convert_item(name: str, item: dict, rest_joints_fn, fps: float = 30.0, up: str = "y", **_):
    motion = np.load(item["motion"], allow_pickle=False)
    if motion.ndim != 2 or motion.shape[1] != 322:
        raise ValueError(f"{item['motion']!r}: Motion-X motion has shape {motion.shape}, "
                         "expected (F, 322)")
    pose = motion[:, :66].reshape(-1, 22, 3)
    pose, transl = common.resample(pose, motion[:, 309:312], fps)
    betas = motion[0, 312:322]
    if up == "z":
        pelvis = np.asarray(rest_joints_fn(betas, "neutral"))[0]
        orient, transl = common.rotate_world(common.R_ZUP_TO_YUP, pose[:, 0], transl, pelvis)
        pose = np.concatenate([orient[:, None], pose[:, 1:]], 1)
    elif up != "y":
        raise ValueError(f"Motion-X up axis must be 'y' or 'z', got {up!r}")
    length = pose.shape[0]
    extra = {}
    if Path(item["text"]).is_file():
        captions = [line.strip() for line in Path(item["text"]).read_text(
            encoding="utf-8").splitlines() if line.strip()]
        if captions:
            extra.update(caption_text=captions, caption_window=[[0, length]] * len(captions))
    two_d_only = Path(item["keypoints"]).is_file()
    if two_d_only:
        keypoints = np.load(item["keypoints"], allow_pickle=False)
        if keypoints.ndim != 3 or keypoints.shape[1] < 17 or keypoints.shape[2] != 3 or \
                keypoints.shape[0] != motion.shape[0]:
            raise ValueError(f"{item['keypoints']!r}: keypoints have shape {keypoints.shape}, "
                             f"expected ({motion.shape[0]}, 133 or 17, 3)")
        keypoints = keypoints[:, :17].astype(np.float64)
        if keypoints.shape[0] != length:
            keypoints = _resample_linear(keypoints, fps, length)
        keypoints[..., 2] = keypoints[..., 2].clip(0, 1)
        extra.update(kp2d=keypoints)
    return common.world_record(
        source=DATASET, name=name, rest_joints_fn=rest_joints_fn, global_orient=pose[:, 0],
        body_pose=pose[:, 1:].reshape(length, 63), transl=transl, betas=betas,
        mask_world=np.full(length, not two_d_only), flag_2d_only=two_d_only, **extra)
