"""Human3.6M with SMPL fits: one record per (subject, action, sub-action, camera).

Human3.6M's own download has 3D joint positions and videos but no SMPL parameters, so this reads
the SMPL fits most methods use, the NeuralAnnot release (Moon et al., distributed with
I2L-MeshNet / Pose2Pose as `annotations/`; reproduced from its `data/Human36M/Human36M.py`):
    <src>/annotations/Human36M_subject{S}_SMPL_NeuralAnnot.json
        {action: {subaction: {frame: {"pose": [72] axis-angle, "trans": [3] metres,
                                      "shape": [10]}}}}   world frame, z-up, 50 fps
    <src>/annotations/Human36M_subject{S}_camera.json
        {camera: {"R": 3x3, "t": [3] millimetres, "f": [fx, fy], "c": [cx, cy]}}
        world-to-camera: x_c = R x_w + t
Subjects: S1, S5, S6, S7, S8 (train), S9, S11 (test) when present. Motion is resampled from
50 to 30 fps (the release keeps H36M at 25 fps unresampled, SPEC B 5.1; we keep one rate), the
world rotated to y-up (camera rotation R' = R A^T for x_yup = A x_zup), t converted to metres.
Images are 1000 x 1002 (cameras 2 and 4: 1000 x 1000); taken as 1000 x 1000 here.
Uncertain: the exact JSON nesting above (keys are strings of integers, as in the release
files); frames missing from a sub-action end the clip at the first gap.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from genmo_jax.data.converters import common

DATASET = "h36m"
H36M_FPS = 50.0
SUBJECTS = (1, 5, 6, 7, 8, 9, 11)


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"Human3.6M annotation {str(path)!r} missing")
    return json.loads(path.read_text())


def items(src: str, subjects=SUBJECTS, **_) -> list[tuple[str, dict]]:
    root = Path(src) / "annotations"
    if not root.is_dir():
        raise FileNotFoundError(f"Human3.6M folder {str(root)!r} missing")
    found = []
    for subject in subjects:
        smpl_path = root / f"Human36M_subject{subject}_SMPL_NeuralAnnot.json"
        if not smpl_path.is_file():
            continue
        fits = _read_json(smpl_path)
        cameras = _read_json(root / f"Human36M_subject{subject}_camera.json")
        for action in sorted(fits, key=int):
            for subaction in sorted(fits[action], key=int):
                for camera in sorted(cameras, key=int):
                    name = f"S{subject}_act{int(action):02d}_sub{int(subaction):02d}_" \
                           f"cam{int(camera):02d}"
                    found.append((name, dict(smpl=str(smpl_path), action=action,
                                             subaction=subaction, camera=cameras[camera])))
    return found


_CACHE: dict[str, dict] = {}


def convert_item(name: str, item: dict, rest_joints_fn, **_):
    if item["smpl"] not in _CACHE:            # one subject file serves many records
        _CACHE.clear()
        _CACHE[item["smpl"]] = _read_json(Path(item["smpl"]))
    frames = _CACHE[item["smpl"]][item["action"]][item["subaction"]]
    params = []
    for index in range(len(frames)):
        if str(index) not in frames:
            break
        params.append(frames[str(index)])
    if len(params) < 2:
        return None
    pose = np.asarray([p["pose"] for p in params], np.float64).reshape(-1, 24, 3)[:, :22]
    transl = np.asarray([p["trans"] for p in params], np.float64)
    betas = np.asarray(params[0]["shape"], np.float64)[:10]
    pose, transl = common.resample(pose, transl, H36M_FPS)
    pelvis = np.asarray(rest_joints_fn(betas, "neutral"))[0]
    orient, transl = common.rotate_world(common.R_ZUP_TO_YUP, pose[:, 0], transl, pelvis)
    length = pose.shape[0]
    camera = item["camera"]
    rotation = np.asarray(camera["R"], np.float64) @ common.R_ZUP_TO_YUP.T
    translation = np.asarray(camera["t"], np.float64).reshape(3) / 1000.0
    (fx, fy), (cx, cy) = camera["f"], camera["c"]
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    return common.world_record(
        source=DATASET, name=name, rest_joints_fn=rest_joints_fn, global_orient=orient,
        body_pose=pose[:, 1:].reshape(length, 63), transl=transl, betas=betas,
        K=np.tile(K, (length, 1, 1)), R_w2c=np.tile(rotation, (length, 1, 1)),
        t_w2c=np.tile(translation, (length, 1)), img_wh=np.array([1000, 1000], np.int32))
