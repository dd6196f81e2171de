"""BEDLAM: synthetic videos with exact SMPL-X bodies and cameras; one record per (sequence, person).

Official layout: the training labels distributed on bedlam.is.tue.mpg.de (one npz per scene,
written by BEDLAM's `data_processing/df_full_body.py`), reproduced:
    <src>/<scene>.npz   one row per (image, person):
        imgname (N,) "<scene>/png/seq_000123/seq_000123_0042.png", sub (N,) person id,
        center (N, 2) and scale (N,) bbox (size = 200 * scale, pixels),
        pose_cam (N, 165) / pose_world (N, 165) SMPL-X axis-angle, shape (N, 11),
        trans_cam (N, 3), trans_world (N, 3) metres, cam_int (N, 3, 3), cam_ext (N, 4, 4)
        world-to-camera, optional gender (N,)
Rows are grouped by (sequence folder, sub) and ordered by the frame number in the file name.
The camera-frame translation follows the "BEDLAM convention" of the release (SPEC B 5.1):
transl_c = trans_cam + cam_ext[:3, 3]. The world is y-up (gravity (0, -1, 0), as the release
uses it). `--fps` gives the label rate (default 30; the 6-fps label files need --fps 6).
Uncertain: image size (1280 x 720, some portrait) is taken as twice the principal point; image
features (A12) are not part of these files and are not converted.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np

from genmo_jax.data.converters import common

DATASET = "bedlam"
_FIELDS = ("imgname", "sub", "center", "scale", "pose_cam", "pose_world", "trans_cam",
           "trans_world", "shape", "cam_int", "cam_ext")


def _frame_number(image_name: str) -> int:
    match = re.search(r"(\d+)\.\w+$", image_name)
    if not match:
        raise ValueError(f"BEDLAM imgname {image_name!r} has no frame number")
    return int(match.group(1))


def items(src: str, **_) -> list[tuple[str, dict]]:
    files = sorted(Path(src).glob("*.npz"))
    if not files:
        raise FileNotFoundError(f"no BEDLAM label files (*.npz) in {src!r}")
    found = []
    for path in files:
        with np.load(path, allow_pickle=False) as data:
            for field in _FIELDS:
                if field not in data.files:
                    raise ValueError(f"{str(path)!r}: BEDLAM field {field!r} missing")
            groups = defaultdict(list)
            for row, (image, person) in enumerate(zip(data["imgname"], data["sub"])):
                sequence = str(Path(str(image)).parent.name)
                groups[(sequence, str(person))].append((_frame_number(str(image)), row))
        for (sequence, person), rows in sorted(groups.items()):
            order = [row for _, row in sorted(rows)]
            found.append((f"{path.stem}/{sequence}/{person}", dict(path=str(path), rows=order)))
    return found


def convert_item(name: str, item: dict, rest_joints_fn, fps: float = 30.0, **_):
    rows = np.asarray(item["rows"])
    with np.load(item["path"], allow_pickle=False) as data:
        get = {k: np.asarray(data[k])[rows] for k in _FIELDS[2:]}
        gender = common.normalise_gender(data["gender"][rows[0]]) if "gender" in data.files \
            else "neutral"
    pose_world = get["pose_world"][:, :66].reshape(-1, 22, 3).astype(np.float64)
    transl = get["trans_world"].astype(np.float64)
    pose_world, transl = common.resample(pose_world, transl, fps)
    length = pose_world.shape[0]
    # Camera-side arrays follow the same resampling (nearest label frame for cameras / boxes).
    index = np.minimum(np.round(np.arange(length) * fps / 30.0).astype(int), len(rows) - 1)
    extrinsics = get["cam_ext"][index].astype(np.float64)
    orient_c, transl_c = common.resample(get["pose_cam"][:, None, :3].astype(np.float64),
                                         get["trans_cam"].astype(np.float64), fps)
    K = get["cam_int"][index].astype(np.float64)
    bbox = np.concatenate([get["center"][index], 200.0 * get["scale"][index, None]], -1)
    return common.world_record(
        source=DATASET, name=name, rest_joints_fn=rest_joints_fn,
        global_orient=pose_world[:, 0], body_pose=pose_world[:, 1:].reshape(length, 63),
        transl=transl, betas=get["shape"][0, :10], gender=gender, K=K,
        R_w2c=extrinsics[:, :3, :3], t_w2c=extrinsics[:, :3, 3],
        img_wh=np.round(2 * K[0, :2, 2]).astype(np.int32), global_orient_c=orient_c[:, 0],
        transl_c=transl_c + extrinsics[:, :3, 3], bbox_xys=bbox)
