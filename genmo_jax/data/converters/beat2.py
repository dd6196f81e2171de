"""BEAT2: co-speech gesture motion (SMPL-X) with its speech audio.

Official layout (huggingface.co/datasets/H-Liu1997/BEAT2, as read by PantoMatrix / EMAGE
`dataloaders/beat_smplx2020.py`), reproduced for one language folder (`--src`, e.g.
beat_english_v2.0.0):
    <src>/smplxflame_30/<id>.npz   poses (F, 165) SMPL-X axis-angle (root 3 | body 63 | jaw,
                                   eyes, hands), trans (F, 3) metres, betas (300,), expressions
                                   (F, 100), gender, mocap_frame_rate (30)
    <src>/wave16k/<id>.wav         16 kHz speech
    <src>/train_test_split.csv     id,type (train / val / test / additional)
Records: world params (betas cut to 10), the waveform resampled to 18 kHz, 600 samples per frame
(SPEC A11), aligned with frame 0. The release simulates a static camera for BEAT2
(pipeline.DATASET_RECIPES). `split` keeps only ids of that type when the csv exists.
Uncertain: the world is taken as y-up (EMAGE measures foot heights on y); clips are cut to the
shorter of motion and audio.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from genmo_jax.data import music, schema
from genmo_jax.data.converters import common

DATASET = "beat2"


def items(src: str, split: str | None = None, **_) -> list[tuple[str, dict]]:
    src = Path(src)
    motion_dir = src / "smplxflame_30"
    if not motion_dir.is_dir():
        raise FileNotFoundError(f"BEAT2 motion folder {str(motion_dir)!r} missing")
    keep = None
    split_file = src / "train_test_split.csv"
    if split is not None and split_file.is_file():
        with open(split_file, newline="", encoding="utf-8") as handle:
            keep = {row["id"] for row in csv.DictReader(handle) if row["type"] == split}
    return [(path.stem, dict(motion=str(path), audio=str(src / "wave16k" / f"{path.stem}.wav")))
            for path in sorted(motion_dir.glob("*.npz")) if keep is None or path.stem in keep]


def convert_item(name: str, item: dict, rest_joints_fn, **_):
    data = common.load_npz(item["motion"])
    for field in ("poses", "trans"):
        if field not in data:
            raise ValueError(f"{item['motion']!r}: BEAT2 field {field!r} missing")
    poses = np.asarray(data["poses"], np.float64)[:, :66].reshape(-1, 22, 3)
    transl = np.asarray(data["trans"], np.float64)
    betas = np.asarray(data["betas"], np.float64)[:10] if "betas" in data else None
    gender = common.normalise_gender(data["gender"]) if "gender" in data else "neutral"
    fps = float(data["mocap_frame_rate"]) if "mocap_frame_rate" in data else 30.0
    poses, transl = common.resample(poses, transl, fps)
    extra = {}
    if Path(item["audio"]).is_file():
        waveform = music.load_waveform(item["audio"], schema.AUDIO_RATE)
        frames = min(poses.shape[0], waveform.shape[0] // schema.AUDIO_SAMPLES_PER_FRAME)
        poses, transl = poses[:frames], transl[:frames]
        extra["audio"] = waveform[:frames * schema.AUDIO_SAMPLES_PER_FRAME]
    length = poses.shape[0]
    return common.world_record(
        source=DATASET, name=name, rest_joints_fn=rest_joints_fn, global_orient=poses[:, 0],
        body_pose=poses[:, 1:].reshape(length, 63), transl=transl, betas=betas, gender=gender,
        **extra)
