"""AIST++: dance motions with real cameras and music; one record per (sequence, camera view).

Official layout (google.github.io/aistplusplus_dataset, aistplusplus_api `loader.py`, and the
"Download" page), reproduced:
    <src>/motions/<seq>.pkl   dict: smpl_poses (F, 72) axis-angle (24 joints), smpl_trans (F, 3)
                              in cm, smpl_scaling (1,), smpl_loss; 60 fps
    <src>/cameras/mapping.txt "<seq> <setting>" per line
    <src>/cameras/<setting>.json  list of 9 cameras {name "c01".., size [w, h], matrix (3x3 K),
                              distortions (5), rotation (Rodrigues, world-to-camera),
                              translation (cm)}
    <src>/ignore_list.txt     sequences with bad fits (skipped)
    <src>/wav/<music id>.wav  music of the AIST Dance DB; the id is the 5th '_' field (mBR0)
The api's `demos/extract_motion_feats.py` uses transl = smpl_trans / smpl_scaling "for
normalizing the motion in generic SMPL model scale", and `demos/run_vis.py` projects the scaled
body with the cm cameras; so in the record's units (an SMPL-sized body) transl = smpl_trans /
scaling and the camera translation is divided by the same scaling (a common scale leaves the
projection unchanged).
Views: the sequence name's "cAll" is replaced by the camera name (gBR_sBM_c01_d04_mBR0_ch01),
as in the AIST++ video file names. Betas are zero (as in the release), contacts are marked
invalid (the release sets `invalid_contact`). The world is y-up (the api's manual motion
features treat y as the vertical); the release's pre-processed file says gravity (0, 0, -1),
i.e. its world was rotated at some point we cannot see. Uncertain: the camera distortion
coefficients are dropped (the schema has pinhole intrinsics only).
"""

from __future__ import annotations

import functools
import json
import pickle
from pathlib import Path

import numpy as np

from genmo_jax.data import music
from genmo_jax.data.converters import common

DATASET = "aistpp"
AIST_FPS = 60.0


def _read_cameras(src: Path, setting: str) -> list[dict]:
    path = src / "cameras" / f"{setting}.json"
    if not path.is_file():
        raise FileNotFoundError(f"AIST++ camera file {str(path)!r} missing")
    return json.loads(path.read_text())


def items(src: str, **_) -> list[tuple[str, dict]]:
    src = Path(src)
    mapping_path = src / "cameras" / "mapping.txt"
    if not mapping_path.is_file():
        raise FileNotFoundError(f"AIST++ camera mapping {str(mapping_path)!r} missing")
    mapping = dict(line.split()[:2] for line in mapping_path.read_text().splitlines()
                   if line.strip())
    ignore_path = src / "ignore_list.txt"
    ignored = set(ignore_path.read_text().split()) if ignore_path.is_file() else set()
    found = []
    for path in sorted((src / "motions").glob("*.pkl")):
        seq = path.stem
        if seq in ignored:
            continue
        if seq not in mapping:
            raise ValueError(f"AIST++ sequence {seq!r} has no camera setting in "
                             f"{str(mapping_path)!r}")
        for camera in _read_cameras(src, mapping[seq]):
            name = seq.replace("cAll", camera["name"])
            music_path = src / "wav" / f"{seq.split('_')[4]}.wav"
            found.append((name, dict(motion=str(path), camera=camera, music=str(music_path))))
    return found


@functools.lru_cache(maxsize=4)
def _music_features(path: str, num_frames: int) -> np.ndarray:
    return music.load_music_features(path, num_frames)   # shared by the 9 views of a sequence


def convert_item(name: str, item: dict, rest_joints_fn, **_):
    from scipy.spatial.transform import Rotation

    with open(item["motion"], "rb") as handle:
        data = pickle.load(handle)  # the official format is a pickle
    for field in ("smpl_poses", "smpl_trans", "smpl_scaling"):
        if field not in data:
            raise ValueError(f"{item['motion']!r}: AIST++ field {field!r} missing")
    poses = np.asarray(data["smpl_poses"], np.float64).reshape(-1, 24, 3)[:, :22]
    scaling = float(np.asarray(data["smpl_scaling"]).reshape(-1)[0])
    transl = np.asarray(data["smpl_trans"], np.float64) / scaling
    poses, transl = common.resample(poses, transl, AIST_FPS)
    length = poses.shape[0]
    camera = item["camera"]
    rotation = Rotation.from_rotvec(np.asarray(camera["rotation"], np.float64)).as_matrix()
    translation = np.asarray(camera["translation"], np.float64) / scaling
    extra = dict(K=np.tile(np.asarray(camera["matrix"], np.float64), (length, 1, 1)),
                 R_w2c=np.tile(rotation, (length, 1, 1)), t_w2c=np.tile(translation, (length, 1)),
                 img_wh=np.asarray(camera["size"], np.int32))
    if Path(item["music"]).is_file():
        extra["music_feat"] = _music_features(item["music"], length)
    return common.world_record(
        source=DATASET, name=name, rest_joints_fn=rest_joints_fn, global_orient=poses[:, 0],
        body_pose=poses[:, 1:].reshape(length, 63), transl=transl, betas=None,
        flag_invalid_contact=True, **extra)
