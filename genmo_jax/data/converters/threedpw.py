"""3DPW: in-the-wild clips with a moving phone camera; one record per (sequence, actor).

Official layout (virtualhumans.mpi-inf.mpg.de/3DPW, its readme and `demo.py`), reproduced:
    <src>/sequenceFiles/{train,validation,test}/<seq>.pkl   Python-2 pickles (latin1):
        poses [actor] (F, 72) SMPL axis-angle, trans [actor] (F, 3) metres, betas [actor] (10,),
        genders [actor] 'm' | 'f', cam_poses (F, 4, 4) world-to-camera, cam_intrinsics (3, 3),
        poses2d [actor] (F, 3, 18) OpenPose COCO-18 (x, y, confidence), campose_valid
        [actor] (F,) bool, img_frame_ids (F,), sequence (str); 30 fps.
Records carry the world params, the camera per frame, the camera-frame root (global_orient_c,
transl_c computed from them), and COCO-17 keypoints reordered from OpenPose-18. As in the
release (SPEC B 5.1), 3DPW gives camera-frame supervision only (`flag_spv_incam_only`) and no
contacts (`flag_invalid_contact`); `mask_world` = campose_valid.
Uncertain: the image size is not in the pickle; it is taken as twice the principal point
(3DPW frames are 1080 x 1920 portrait, some landscape). The world up axis is not documented;
nothing here depends on it because world supervision is off.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from genmo_jax.data.converters import common

DATASET = "3dpw"
# COCO-17 keypoint k = OpenPose COCO-18 keypoint OPENPOSE_TO_COCO[k].
OPENPOSE_TO_COCO = np.array([0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10])
_GENDERS = {"m": "male", "f": "female"}


def _load(path: str) -> dict:
    with open(path, "rb") as handle:
        return pickle.load(handle, encoding="latin1")  # the official format is a py2 pickle


def items(src: str, splits=("train", "validation", "test"), **_) -> list[tuple[str, dict]]:
    root = Path(src) / "sequenceFiles"
    if not root.is_dir():
        raise FileNotFoundError(f"3DPW folder {str(root)!r} missing")
    found = []
    for split in splits:
        for path in sorted((root / split).glob("*.pkl")):
            num_actors = len(_load(str(path))["poses"])
            found += [(f"{split}/{path.stem}_{actor}", dict(path=str(path), actor=actor))
                      for actor in range(num_actors)]
    return found


def convert_item(name: str, item: dict, rest_joints_fn, **_):
    data = _load(item["path"])
    actor = item["actor"]
    for field in ("poses", "trans", "betas", "cam_poses", "cam_intrinsics"):
        if field not in data:
            raise ValueError(f"{item['path']!r}: 3DPW field {field!r} missing")
    poses = np.asarray(data["poses"][actor], np.float64).reshape(-1, 24, 3)[:, :22]
    transl = np.asarray(data["trans"][actor], np.float64)
    length = poses.shape[0]
    betas = np.asarray(data["betas"][actor], np.float64)[:10]
    gender = _GENDERS.get(str(data.get("genders", ["n"] * (actor + 1))[actor])[:1], "neutral")
    extrinsics = np.asarray(data["cam_poses"], np.float64)
    rot_w2c, t_w2c = extrinsics[:, :3, :3], extrinsics[:, :3, 3]
    K = np.asarray(data["cam_intrinsics"], np.float64)
    valid = np.asarray(data["campose_valid"][actor], bool) if "campose_valid" in data else \
        np.ones(length, bool)
    # Camera-frame root: R_c = R_w2c R_w; t_c = R_w2c (t + o) + t_w2c - o (o = rest pelvis).
    pelvis = np.asarray(rest_joints_fn(betas, gender))[0]
    orient_c = common.matrix_to_aa(rot_w2c @ common.aa_to_matrix(poses[:, 0]))
    transl_c = np.einsum("lij,lj->li", rot_w2c, transl + pelvis) + t_w2c - pelvis
    extra = dict(K=np.tile(K, (length, 1, 1)), R_w2c=rot_w2c, t_w2c=t_w2c,
                 img_wh=np.round(2 * K[:2, 2]).astype(np.int32), global_orient_c=orient_c,
                 transl_c=transl_c)
    if "poses2d" in data:
        openpose = np.asarray(data["poses2d"][actor], np.float64).transpose(0, 2, 1)  # (F, 18, 3)
        keypoints = openpose[:, OPENPOSE_TO_COCO]
        keypoints[..., 2] = keypoints[..., 2].clip(0, 1)
        extra.update(kp2d=keypoints, mask_kp2d=keypoints[..., 2].max(-1) > 0)
    return common.world_record(
        source=DATASET, name=name, rest_joints_fn=rest_joints_fn, global_orient=poses[:, 0],
        body_pose=poses[:, 1:].reshape(length, 63), transl=transl, betas=betas, gender=gender,
        mask_world=valid, flag_spv_incam_only=True, flag_invalid_contact=True, **extra)
