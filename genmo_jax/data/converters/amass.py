"""AMASS: one record per sequence npz, z-up -> y-up, resampled to 30 fps.

Official layout (amass.is.tue.mpg.de, "SMPL+H G" and "SMPL-X N" downloads, reproduced from the
AMASS README / `amass` repo `notebooks/01-AMASS_Visualization.ipynb`):
    <src>/<SubDataset>/<Subject>/<Sequence>_poses.npz      (SMPL+H G)
        poses (F, 156) axis-angle [root 3 | body 63 | hands 90], trans (F, 3) metres z-up,
        betas (16,), gender (str), mocap_framerate (scalar), dmpls (F, 8)
    <src>/<SubDataset>/<Subject>/<Sequence>_stageii.npz    (SMPL-X N)
        poses (F, 165), trans, betas (16,), gender, mocap_frame_rate, surface_model_type, ...
    <src>/<SubDataset>/<Subject>/shape.npz                 (betas + gender only: skipped)
Uncertain: SMPL-X N files store `mocap_frame_rate`, SMPL+H G files `mocap_framerate`; both are
read. Betas are cut to the first 10 (AMASS fits use 16).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genmo_jax.data.converters import common

DATASET = "amass"


def load_sequence(path: str | os.PathLike) -> dict | None:
    """Raw AMASS npz -> dict(poses (F, 22, 3), trans (F, 3) z-up, betas, gender, fps).

    Returns None for files without a motion (shape.npz). ValueError names the file and field.
    """
    data = common.load_npz(path)
    if "poses" not in data:
        return None
    if "trans" not in data:
        raise ValueError(f"{str(path)!r}: AMASS field 'trans' missing")
    if "mocap_framerate" in data:
        fps = float(data["mocap_framerate"])
    elif "mocap_frame_rate" in data:
        fps = float(data["mocap_frame_rate"])
    else:
        raise ValueError(f"{str(path)!r}: neither 'mocap_framerate' nor 'mocap_frame_rate'")
    poses = np.asarray(data["poses"], np.float64)
    if poses.ndim != 2 or poses.shape[1] < 66:
        raise ValueError(f"{str(path)!r}: 'poses' has shape {poses.shape}, expected (F, >=66)")
    trans = np.asarray(data["trans"], np.float64)
    if trans.shape != (poses.shape[0], 3):
        raise ValueError(f"{str(path)!r}: 'trans' has shape {trans.shape}, expected "
                         f"({poses.shape[0]}, 3)")
    betas = np.asarray(data["betas"], np.float64) if "betas" in data else None
    gender = common.normalise_gender(data["gender"]) if "gender" in data else "neutral"
    return dict(poses=poses[:, :66].reshape(-1, 22, 3), trans=trans, betas=betas,
                gender=gender, fps=fps)


def world_params_yup(sequence: dict, rest_joints_fn, time_window=None) -> dict:
    """z-up AMASS sequence -> y-up 30-fps SMPL params (global_orient, body_pose, transl).

    time_window: optional (start_s, end_s) crop in seconds, applied after resampling.
    """
    pose, transl = common.resample(sequence["poses"], sequence["trans"], sequence["fps"])
    if time_window is not None:
        start = int(round(time_window[0] * common.schema.FPS))
        end = int(round(time_window[1] * common.schema.FPS))
        pose, transl = pose[start:end], transl[start:end]
    betas = np.zeros(10) if sequence["betas"] is None else \
        np.pad(sequence["betas"][:10], (0, max(0, 10 - sequence["betas"][:10].shape[0])))
    pelvis = np.asarray(rest_joints_fn(betas, sequence["gender"]))[0]
    orient, transl = common.rotate_world(common.R_ZUP_TO_YUP, pose[:, 0], transl, pelvis)
    return dict(global_orient=orient, body_pose=pose[:, 1:22].reshape(-1, 63), transl=transl,
                betas=betas, gender=sequence["gender"])


def items(src: str, skip=("moyo",), **_) -> list[tuple[str, str]]:
    """(clip name, npz path) for every motion npz under src, sorted; `skip` matches names."""
    found = []
    for path in sorted(Path(src).rglob("*.npz")):
        name = common.relative_name(path, src)
        if path.name == "shape.npz" or any(s.lower() in name.lower() for s in skip):
            continue
        found.append((name, str(path)))
    return found


def convert_item(name: str, path: str, rest_joints_fn, min_frames: int = 25, **_):
    sequence = load_sequence(path)
    if sequence is None:
        return None
    params = world_params_yup(sequence, rest_joints_fn)
    if params["transl"].shape[0] < min_frames:
        return None
    return common.world_record(source=DATASET, name=name, rest_joints_fn=rest_joints_fn,
                               **params)
