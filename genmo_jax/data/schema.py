"""The one record every data source is converted into (SPEC A13), and its validation.

A record is one motion clip: a flat dict of numpy arrays, serialised with `np.savez` (no pickle;
strings are numpy unicode arrays) and stored one per ArrayRecord entry (`shards.py`).

Conventions (docs/CONVENTIONS.md): world frame y-up, metres, radians, 30 fps; camera frame OpenCV;
extrinsics world-to-camera x_c = R_w2c @ x_w + t_w2c; intrinsics in pixels. L = number of frames.

Fields (`FIELDS` below is the machine-readable version of this table):

| field | dtype | shape | content |
|---|---|---|---|
| schema_version | int32 | () | `SCHEMA_VERSION` |
| source | str | () | dataset name, e.g. "amass" |
| name | str | () | clip id, unique within the dataset |
| fps | float32 | () | always 30 |
| body_pose | float32 | (L, 63) | axis-angle of SMPL joints 1..21, world params |
| global_orient | float32 | (L, 3) | root axis-angle in the world frame |
| transl | float32 | (L, 3) | body-model translation, metres, world frame |
| betas | float32 | (10,) | shape coefficients |
| gender | str | () | "neutral", "male" or "female" |
| joints_w | float32 | (L, 24, 3) | SMPL 24 joints in the world frame, metres (computed at conversion) |
| mask_world | bool | (L,) | frames whose world params are valid |
| flag_2d_only | bool | () | no 3D supervision at all (Motion-X style) |
| flag_spv_incam_only | bool | () | only camera-frame supervision (3DPW) |
| flag_invalid_contact | bool | () | no contact supervision |
| optional, camera (real cameras only; otherwise the simulation makes one): |||
| K | float32 | (L, 3, 3) | intrinsics, pixels |
| R_w2c | float32 | (L, 3, 3) | world-to-camera rotation |
| t_w2c | float32 | (L, 3) | world-to-camera translation, metres |
| img_wh | int32 | (2,) | image width, height in pixels |
| mask_camera | bool | (L,) | frames with a valid camera |
| optional, camera-frame SMPL params given by the dataset (3DPW, BEDLAM): |||
| global_orient_c | float32 | (L, 3) | root axis-angle in the camera frame |
| transl_c | float32 | (L, 3) | body-model translation in the camera frame, metres |
| optional, observations: |||
| bbox_xys | float32 | (L, 3) | (centre x, centre y, size) pixels |
| kp2d | float32 | (L, 17, 3) | COCO-17 (x, y) pixels + confidence in [0, 1] |
| mask_kp2d | bool | (L,) | frames with 2D keypoints |
| img_feat | float32 | (L, 1024) | per-frame image features |
| mask_img_feat | bool | (L,) | frames with image features |
| music_feat | float32 | (L, 35) | music features (SPEC A11, `music.py`) |
| audio | float32 | (L * 600,) | waveform at 18 kHz (600 samples per 30-fps frame) |
| optional, text: |||
| caption_text | str | (N,) | captions |
| caption_window | int32 | (N, 2) | [start, end) frame window of each caption |

A missing optional field means the modality is absent for the whole clip. Fields the table
does not name are rejected, so a typo cannot silently drop data.
"""

from __future__ import annotations

import io
from typing import Any, Mapping

import numpy as np

SCHEMA_VERSION = 1
FPS = 30.0
AUDIO_RATE = 18000
AUDIO_SAMPLES_PER_FRAME = 600   # AUDIO_RATE / FPS
NUM_JOINTS = 24
NUM_BETAS = 10
MUSIC_DIM = 35
IMAGE_FEATURE_DIM = 1024
GENDERS = ("neutral", "male", "female")

# name -> (kind, shape). kind: "f" float32, "i" int32, "b" bool, "s" str.
# Shape entries: ints are fixed, "L" = frames, "N" = captions, "A" = L * 600 audio samples.
FIELDS: dict[str, tuple[str, tuple]] = {
    "schema_version": ("i", ()),
    "source": ("s", ()),
    "name": ("s", ()),
    "fps": ("f", ()),
    "body_pose": ("f", ("L", 63)),
    "global_orient": ("f", ("L", 3)),
    "transl": ("f", ("L", 3)),
    "betas": ("f", (NUM_BETAS,)),
    "gender": ("s", ()),
    "joints_w": ("f", ("L", NUM_JOINTS, 3)),
    "mask_world": ("b", ("L",)),
    "flag_2d_only": ("b", ()),
    "flag_spv_incam_only": ("b", ()),
    "flag_invalid_contact": ("b", ()),
    "K": ("f", ("L", 3, 3)),
    "R_w2c": ("f", ("L", 3, 3)),
    "t_w2c": ("f", ("L", 3)),
    "img_wh": ("i", (2,)),
    "mask_camera": ("b", ("L",)),
    "global_orient_c": ("f", ("L", 3)),
    "transl_c": ("f", ("L", 3)),
    "bbox_xys": ("f", ("L", 3)),
    "kp2d": ("f", ("L", 17, 3)),
    "mask_kp2d": ("b", ("L",)),
    "img_feat": ("f", ("L", IMAGE_FEATURE_DIM)),
    "mask_img_feat": ("b", ("L",)),
    "music_feat": ("f", ("L", MUSIC_DIM)),
    "audio": ("f", ("A",)),
    "caption_text": ("s", ("N",)),
    "caption_window": ("i", ("N", 2)),
}
REQUIRED = (
    "schema_version", "source", "name", "fps", "body_pose", "global_orient", "transl", "betas",
    "gender", "joints_w", "mask_world", "flag_2d_only", "flag_spv_incam_only",
    "flag_invalid_contact",
)
# Optional fields that come in groups: if one is present, all must be.
GROUPS = (
    ("K", "R_w2c", "t_w2c", "img_wh", "mask_camera"),
    ("global_orient_c", "transl_c"),
    ("kp2d", "mask_kp2d"),
    ("img_feat", "mask_img_feat"),
    ("caption_text", "caption_window"),
)
_DTYPES = {"f": np.float32, "i": np.int32, "b": np.bool_}


class RecordError(ValueError):
    """A record that does not follow the schema; the message names where and which field."""


def make_record(*, source: str, name: str, body_pose, global_orient, transl, betas,
                joints_w, gender: str = "neutral", mask_world=None, flag_2d_only: bool = False,
                flag_spv_incam_only: bool = False, flag_invalid_contact: bool = False,
                **optional) -> dict[str, np.ndarray]:
    """Builds a record with the schema's dtypes and defaults, then validates it.

    Array arguments are cast (float32 / int32 / bool); `mask_world` defaults to all True,
    `mask_camera`, `mask_kp2d`, `mask_img_feat` to all True when their data are given.
    Raises RecordError naming the field on any mismatch.
    """
    length = int(np.shape(body_pose)[0])
    fields: dict[str, Any] = dict(
        schema_version=SCHEMA_VERSION, source=source, name=name, fps=FPS,
        body_pose=body_pose, global_orient=global_orient, transl=transl,
        betas=np.asarray(betas, np.float32).reshape(-1)[:NUM_BETAS], gender=gender,
        joints_w=joints_w,
        mask_world=np.ones(length, bool) if mask_world is None else mask_world,
        flag_2d_only=flag_2d_only, flag_spv_incam_only=flag_spv_incam_only,
        flag_invalid_contact=flag_invalid_contact)
    for group_mask, group_data in (("mask_camera", "K"), ("mask_kp2d", "kp2d"),
                                   ("mask_img_feat", "img_feat")):
        if group_data in optional and optional.get(group_mask) is None:
            optional[group_mask] = np.ones(length, bool)
    if "img_wh" not in optional and "K" in optional:
        raise RecordError(f"record {name!r}: field 'img_wh' is required with a camera 'K'")
    if "caption_text" in optional:
        optional["caption_text"] = np.asarray(list(optional["caption_text"]), dtype=np.str_)
        optional["caption_window"] = np.asarray(optional["caption_window"],
                                                np.int32).reshape(-1, 2)
    fields.update({k: v for k, v in optional.items() if v is not None})
    record = {}
    for key, value in fields.items():
        if key not in FIELDS:
            raise RecordError(f"record {name!r}: unknown field {key!r}")
        kind = FIELDS[key][0]
        record[key] = np.asarray(value, dtype=np.str_) if kind == "s" else np.asarray(
            value, dtype=_DTYPES[kind])
    validate_record(record, where=f"record {name!r}")
    return record


def validate_record(record: Mapping[str, np.ndarray], where: str = "record") -> int:
    """Checks fields, dtypes, shapes, finiteness and ranges; returns L (frames).

    Raises RecordError("<where> field '<name>': <problem>").
    """
    def fail(field, problem):
        raise RecordError(f"{where} field {field!r}: {problem}")

    for key in REQUIRED:
        if key not in record:
            fail(key, "missing")
    for key in record:
        if key not in FIELDS:
            fail(key, "not in the schema")
    version = int(record["schema_version"])
    if version != SCHEMA_VERSION:
        fail("schema_version", f"is {version}, this code reads version {SCHEMA_VERSION}; "
                               "re-run the converter")
    for group in GROUPS:
        present = [k for k in group if k in record]
        if present and len(present) != len(group):
            missing = [k for k in group if k not in record]
            fail(missing[0], f"missing although {present[0]!r} is present")

    length = int(np.shape(record["body_pose"])[0])
    if length < 1:
        fail("body_pose", "has no frames")
    num_captions = int(np.shape(record["caption_text"])[0]) if "caption_text" in record else 0
    sizes = {"L": length, "N": num_captions, "A": length * AUDIO_SAMPLES_PER_FRAME}
    for key, value in record.items():
        kind, shape = FIELDS[key]
        value = np.asarray(value)
        expected = tuple(sizes[s] if isinstance(s, str) else s for s in shape)
        if value.shape != expected:
            fail(key, f"shape {value.shape}, expected {expected} (L={length})")
        if kind == "s":
            if value.dtype.kind != "U":
                fail(key, f"dtype {value.dtype}, expected a unicode string")
        elif value.dtype != _DTYPES[kind]:
            fail(key, f"dtype {value.dtype}, expected {np.dtype(_DTYPES[kind])}")
        if kind == "f" and not np.all(np.isfinite(value)):
            fail(key, "has NaN or inf values")
    if str(record["gender"]) not in GENDERS:
        fail("gender", f"is {str(record['gender'])!r}, expected one of {GENDERS}")
    if float(record["fps"]) != FPS:
        fail("fps", f"is {float(record['fps'])}, records are resampled to {FPS} fps")
    if "kp2d" in record:
        conf = record["kp2d"][..., 2]
        if conf.min() < 0 or conf.max() > 1:
            fail("kp2d", "confidence outside [0, 1]")
    if "caption_window" in record and num_captions:
        window = record["caption_window"]
        if window.min() < 0 or window.max() > length or np.any(window[:, 1] <= window[:, 0]):
            fail("caption_window", f"windows must satisfy 0 <= start < end <= L={length}")
    if "img_wh" in record and np.any(record["img_wh"] <= 0):
        fail("img_wh", "must be positive")
    return length


def num_frames(record: Mapping[str, np.ndarray]) -> int:
    """L, the number of frames of a record."""
    return int(np.shape(record["body_pose"])[0])


def encode_record(record: Mapping[str, np.ndarray]) -> bytes:
    """Serialises a (validated) record to `np.savez` bytes (no pickle, uncompressed)."""
    buffer = io.BytesIO()
    np.savez(buffer, **{k: np.asarray(v) for k, v in record.items()})
    return buffer.getvalue()


def decode_record(data: bytes, where: str = "record") -> dict[str, np.ndarray]:
    """Parses `np.savez` bytes and validates the result; errors name `where` and the field."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            record = {k: archive[k] for k in archive.files}
    except Exception as error:  # corrupt bytes: zip / npy header errors of many types
        raise RecordError(f"{where}: not a readable np.savez record ({error})") from error
    validate_record(record, where=where)
    return record
