"""HumanML3D: AMASS clips cropped by `index.csv`, with every caption and its time window.

Official layout (github.com/EricGuo5513/HumanML3D, README + `raw_pose_processing.ipynb`):
    <src>/index.csv     columns source_path,start_frame,end_frame,new_name; e.g.
                        ./pose_data/KIT/3/kick_high_left02_poses.npy,0,164,000000.npy
    <src>/texts/<new_name stem>.txt   one caption per line: caption#tokens#start_s#end_s
                        (start/end in seconds; 0.0#0.0 = the whole clip)
    --amass DIR         the AMASS root the pose_data paths refer to (default <src>/amass)
Reproduced from raw_pose_processing.ipynb: AMASS is down-sampled to 20 fps by keeping every
int(fps / 20)-th frame; some sub-datasets are trimmed first (Eyes_Japan_Dataset and MPI_HDM05:
3 s, TotalCapture and MPI_Limits: 1 s, Transitions_mocap: 0.5 s), then [start_frame, end_frame)
is cut at 20 fps. We convert those frame numbers to seconds and cut our own 30-fps resampling of
the same AMASS file, so no 20-fps data is used. Mirrored clips (names starting with "M") and
humanact12 rows (not AMASS) are skipped. Captions keep their windows (SPEC A5), in 30-fps frames.
Uncertain: the notebook's trimming list is quoted from memory of the repository; the index
frame numbers are taken to be 20-fps frames after the trimming, as the notebook applies them.
The pose_data paths use the AMASS folder names of 2021 (e.g. MPI_HDM05, Transitions_mocap);
`--amass` must point at an AMASS tree with those names.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from genmo_jax.data import schema
from genmo_jax.data.converters import amass, common

DATASET = "humanml3d"
HUMANML_FPS = 20
TRIM_SECONDS = {"Eyes_Japan_Dataset": 3.0, "MPI_HDM05": 3.0, "TotalCapture": 1.0,
                "MPI_Limits": 1.0, "Transitions_mocap": 0.5}


class Caption(NamedTuple):
    """One line of a HumanML3D texts/<id>.txt file: ``caption#tokens#start#end``."""

    text: str
    start_s: float          # start_s = end_s = 0: the whole clip
    end_s: float
    tokens: tuple           # the 'word/POS' tokens (the T2M evaluator's input); () if none


def read_captions(path: str | os.PathLike) -> list[Caption]:
    """texts/<id>.txt -> its captions in file order; (0, 0) or NaN times = whole clip."""
    captions = []
    for line_number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.strip().split("#")
        if len(fields) < 4:
            raise ValueError(f"{str(path)!r} line {line_number}: expected "
                             f"'caption#tokens#start#end', got {line!r}")
        start, end = float(fields[2]), float(fields[3])
        start, end = (0.0, 0.0) if np.isnan(start) or np.isnan(end) else (start, end)
        captions.append(Caption(fields[0].strip(), start, end, tuple(fields[1].split())))
    return captions


def items(src: str, amass: str | None = None, **_) -> list[tuple[str, dict]]:
    index_path = Path(src) / "index.csv"
    if not index_path.is_file():
        raise FileNotFoundError(f"HumanML3D index {str(index_path)!r} missing")
    amass_root = Path(amass) if amass else Path(src) / "amass"
    found = []
    with open(index_path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            name = Path(row["new_name"]).stem
            source = row["source_path"]
            if name.startswith("M") or "humanact12" in source:
                continue
            relative = source.replace("\\", "/").split("pose_data/", 1)[-1]
            found.append((name, dict(
                npz=str(amass_root / (os.path.splitext(relative)[0] + ".npz")),
                sub_dataset=relative, start=int(row["start_frame"]),
                end=int(row["end_frame"]), text=str(Path(src) / "texts" / f"{name}.txt"))))
    return found


def source_window_seconds(start: int, end: int, sub_dataset: str, mocap_fps: float):
    """HumanML3D 20-fps frame numbers -> (start_s, end_s) in the AMASS sequence's time.

    sub_dataset: the pose_data path (the trims apply when a key of TRIM_SECONDS is in it).
    """
    step = int(mocap_fps / HUMANML_FPS)
    if step < 1:
        raise ValueError(f"AMASS frame rate {mocap_fps} below HumanML3D's {HUMANML_FPS} fps")
    # As the notebook: a substring test on the source path, one trim at most.
    trim = next((int(seconds * HUMANML_FPS) for key, seconds in TRIM_SECONDS.items()
                 if key in sub_dataset), 0)
    return (trim + start) * step / mocap_fps, (trim + end) * step / mocap_fps


def convert_item(name: str, item: dict, rest_joints_fn, **_):
    if not Path(item["npz"]).is_file():
        raise FileNotFoundError(f"HumanML3D clip {name}: AMASS file {item['npz']!r} missing "
                                "(pass --amass DIR)")
    sequence = amass.load_sequence(item["npz"])
    duration = (sequence["poses"].shape[0] - 1) / sequence["fps"]
    start_s, end_s = source_window_seconds(item["start"], item["end"], item["sub_dataset"],
                                           sequence["fps"])
    params = amass.world_params_yup(sequence, rest_joints_fn,
                                    time_window=(start_s, min(end_s, duration + 1e-9)))
    length = params["transl"].shape[0]
    if length < 1:
        return None
    texts, windows = [], []
    for caption, start, end, _ in read_captions(item["text"]):
        if start == 0.0 and end == 0.0:
            window = (0, length)
        else:
            window = (int(round(start * schema.FPS)), min(int(round(end * schema.FPS)), length))
        if window[1] > window[0]:
            texts.append(caption)
            windows.append(window)
    extra = dict(caption_text=texts, caption_window=np.asarray(windows, np.int32).reshape(-1, 2))
    return common.world_record(source=DATASET, name=name, rest_joints_fn=rest_joints_fn,
                               **params, **extra)
