"""Timeline specs: what a user asks `python -m genmo_jax.sample` for, validated in one place.

A timeline is a JSON (or YAML, with PyYAML installed) object; every time is in seconds unless
the key ends in `_frame`. Full reference with examples: docs/TIMELINE.md.

    {
      "seconds": 8.0,                      # or "frames": 240; any length
      "seed": 0, "num_samples": 1, "ddim_steps": 50, "guidance_scale": 2.5,
      "estimation": false,                 # one estimation pass instead of DDIM (needs 2D input)
      "texts": [{"text": "a person walks forward", "start": 0, "end": 4},
                {"text": "then turns left", "start": 3.5, "end": 8}],
      "music": {"file": "song.wav", "offset": 0.0},
      "keypoints": {"file": "kp.npz"},     # COCO-17 (F, 17, 3) pixels + confidence; npz or JSON
      "image_features": {"file": "feats.npy"},   # (F, 1024)
      "camera": {"static": true} or {"file": "R_w2c.npy"},   # (F, 3, 3) world-to-camera
      "keyframes": {"file": "keys.npz", "frames": [0, 120, 239]}  # SMPL params at those frames
    }

Overlapping text windows are allowed and meaningful (both captions act there). A window that
ends past the motion, a missing file or an array of the wrong shape is an error naming the item.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

FPS = 30.0


class TimelineError(ValueError):
    """A timeline that cannot be sampled: one line per mistake, each naming the item."""


@dataclasses.dataclass
class TextSpan:
    text: str
    start_frame: int
    end_frame: int


@dataclasses.dataclass
class Timeline:
    """A validated timeline, everything in frames at 30 fps.

    Arrays are loaded: keypoints (F, 17, 3) pixels + confidence, bbox (F, 3) (cx, cy, size),
    intrinsics (3, 3), image_features (F, 1024), R_w2c (F, 3, 3), keyframes: dict of SMPL
    params (K, ...) with keyframe_frames (K,).
    """

    num_frames: int
    seed: int = 0
    num_samples: int = 1
    ddim_steps: int = 50
    guidance_scale: float = 2.5
    eta: float = 0.0
    estimation: bool = False
    texts: list[TextSpan] = dataclasses.field(default_factory=list)
    music_file: str | None = None
    music_offset_s: float = 0.0
    keypoints: np.ndarray | None = None
    bbox: np.ndarray | None = None
    intrinsics: np.ndarray | None = None
    image_size: tuple[int, int] = (1000, 1000)
    image_features: np.ndarray | None = None
    R_w2c: np.ndarray | None = None
    static_camera: bool = True
    keyframes: dict | None = None
    keyframe_frames: np.ndarray | None = None

    def to_json(self) -> dict:
        """The timeline as written into motion.npz (inputs summarised, not copied)."""
        return {
            "num_frames": self.num_frames, "fps": FPS, "seed": self.seed, "num_samples": self.num_samples,
            "ddim_steps": self.ddim_steps, "guidance_scale": self.guidance_scale, "eta": self.eta,
            "estimation": self.estimation,
            "texts": [dataclasses.asdict(t) for t in self.texts],
            "music_file": self.music_file, "music_offset_s": self.music_offset_s,
            "has_keypoints": self.keypoints is not None, "has_image_features": self.image_features is not None,
            "static_camera": self.static_camera,
            "keyframe_frames": None if self.keyframe_frames is None else self.keyframe_frames.tolist(),
        }


_TOP_KEYS = {"seconds", "frames", "seed", "num_samples", "ddim_steps", "guidance_scale", "eta", "estimation",
             "texts", "music", "keypoints", "image_features", "camera", "keyframes", "image_size"}


def read_timeline_file(path) -> dict:
    """Reads a JSON or YAML timeline file into a dict (errors name the file)."""
    if not os.path.isfile(path):
        raise TimelineError(f"{path}: timeline file not found")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if str(path).endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise TimelineError(f"{path}: YAML timelines need PyYAML (pip install pyyaml); or write JSON") from None
        try:
            spec = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise TimelineError(f"{path}: invalid YAML: {e}") from None
    else:
        try:
            spec = json.loads(text)
        except json.JSONDecodeError as e:
            raise TimelineError(f"{path}: invalid JSON: {e}") from None
    if not isinstance(spec, dict):
        raise TimelineError(f"{path}: a timeline is an object with keys such as 'seconds' and 'texts'")
    return spec


def _load_array(path, base_dir, key=None):
    full = path if os.path.isabs(path) else os.path.join(base_dir, path)
    if not os.path.isfile(full):
        raise FileNotFoundError(full)
    if full.endswith(".npy"):
        return np.load(full, allow_pickle=False)
    if full.endswith(".npz"):
        with np.load(full, allow_pickle=False) as z:
            return {k: z[k] for k in z.files} if key is None else z[key]
    if full.endswith(".json"):
        with open(full, encoding="utf-8") as f:
            return json.load(f)
    raise ValueError(f"unsupported file type {full} (use .npy, .npz or .json)")


def _keypoints_from_json(data):
    """Accepts a list of frames, each a list of 17 [x, y, conf] or a flat list of 51 numbers, or a
    list of dicts with a "keypoints" entry (common detector outputs, e.g. COCO-style results)."""
    frames = []
    for item in data:
        kp = item.get("keypoints") if isinstance(item, dict) else item
        frames.append(np.asarray(kp, np.float32).reshape(17, 3))
    return np.stack(frames) if frames else np.zeros((0, 17, 3), np.float32)


def bbox_from_keypoints(keypoints, scale=1.2, min_conf=0.5):
    """Square boxes (F, 3) = (cx, cy, size) around the visible keypoints, as the release's demo
    (1.2 x the larger side); frames with no visible keypoint reuse the nearest valid box."""
    kp = np.asarray(keypoints, np.float32)
    visible = kp[..., 2] > min_conf
    big = np.float32(1e9)
    lo = np.where(visible[..., None], kp[..., :2], big).min(1)
    hi = np.where(visible[..., None], kp[..., :2], -big).max(1)
    has = visible.any(1)
    if not has.any():
        raise ValueError("no visible keypoint in any frame")
    center = (lo + hi) / 2
    size = (hi - lo).max(1) * scale
    idx = np.where(has, np.arange(len(kp)), 0)
    idx = np.maximum.accumulate(idx)
    first = int(np.argmax(has))
    idx[:first] = first
    return np.concatenate([center[idx], size[idx, None]], axis=1).astype(np.float32)


def default_intrinsics(width, height):
    """The release's demo intrinsics: focal = max(W, H), principal point at the image centre."""
    f = float(max(width, height))
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]], np.float32)


def parse_timeline(spec: dict, base_dir: str = ".") -> Timeline:
    """Validates a timeline dict and loads its files. Raises TimelineError listing every mistake."""
    errors = []

    def err(msg):
        errors.append(msg)

    for key in sorted(set(spec) - _TOP_KEYS):
        err(f"unknown key '{key}' (known: {', '.join(sorted(_TOP_KEYS))})")
    if ("seconds" in spec) == ("frames" in spec):
        err("give exactly one of 'seconds' or 'frames' for the motion length")
        num_frames = 0
    elif "seconds" in spec:
        num_frames = int(round(float(spec["seconds"]) * FPS))
    else:
        num_frames = int(spec["frames"])
    if ("seconds" in spec or "frames" in spec) and num_frames < 2:
        err(f"the motion must be at least 2 frames long, got {num_frames}")

    tl = Timeline(num_frames=num_frames)
    for key, cast, ok, what in (("seed", int, lambda v: True, "an integer"),
                                ("num_samples", int, lambda v: v >= 1, ">= 1"),
                                ("ddim_steps", int, lambda v: 1 <= v <= 1000, "in 1..1000"),
                                ("guidance_scale", float, lambda v: v >= 0, ">= 0"),
                                ("eta", float, lambda v: 0 <= v <= 1, "in [0, 1]"),
                                ("estimation", bool, lambda v: True, "true or false")):
        if key in spec:
            try:
                value = cast(spec[key])
            except (TypeError, ValueError):
                err(f"'{key}' must be {what}, got {spec[key]!r}")
                continue
            if not ok(value):
                err(f"'{key}' must be {what}, got {value}")
            setattr(tl, key, value)

    def to_frame(item, name, field):
        if f"{field}_frame" in item:
            return int(item[f"{field}_frame"])
        if field in item:
            return int(round(float(item[field]) * FPS))
        return None

    for i, item in enumerate(spec.get("texts", []) or []):
        name = f"texts[{i}]"
        if not isinstance(item, dict) or not str(item.get("text", "")).strip():
            err(f"{name}: needs a non-empty 'text'")
            continue
        start = to_frame(item, name, "start")
        end = to_frame(item, name, "end")
        start = 0 if start is None else start
        end = num_frames if end is None else end
        if start < 0 or end <= start:
            err(f"{name} ('{item['text']}'): window [{start}, {end}) frames is empty or negative")
        elif num_frames and end > num_frames:
            err(f"{name} ('{item['text']}'): window ends at frame {end}, past the motion's {num_frames} frames")
        tl.texts.append(TextSpan(str(item["text"]), start, end))

    if "image_size" in spec:
        try:
            w, h = (int(v) for v in spec["image_size"])
            tl.image_size = (w, h)
        except (TypeError, ValueError):
            err(f"'image_size' must be [width, height], got {spec['image_size']!r}")

    music = spec.get("music")
    if music is not None:
        path = music.get("file") if isinstance(music, dict) else None
        full = path if path is None or os.path.isabs(path) else os.path.join(base_dir, path)
        if not path or not os.path.isfile(full):
            err(f"music: file not found: {full}")
        else:
            tl.music_file = full
            tl.music_offset_s = float(music.get("offset", 0.0))

    def array_item(name, expected_tail, key=None):
        item = spec.get(name)
        if item is None:
            return None
        path = item.get("file") if isinstance(item, dict) else None
        if not path:
            err(f"{name}: needs a 'file'")
            return None
        try:
            data = _load_array(path, base_dir, key)
        except FileNotFoundError as e:
            err(f"{name}: file not found: {e}")
            return None
        except (ValueError, OSError, KeyError) as e:
            err(f"{name}: cannot read {path}: {e}")
            return None
        return data

    kp = array_item("keypoints", (17, 3))
    if kp is not None:
        try:
            if isinstance(kp, dict):
                kp = kp.get("keypoints", kp.get("kp2d"))
                if kp is None:
                    raise ValueError("npz needs an array named 'keypoints' (or 'kp2d')")
            elif isinstance(kp, list):
                kp = _keypoints_from_json(kp)
            kp = np.asarray(kp, np.float32)
            if kp.ndim != 3 or kp.shape[1:] != (17, 3):
                raise ValueError(f"expected (frames, 17, 3) COCO-17 (x, y, confidence), got {kp.shape}")
            if num_frames and kp.shape[0] != num_frames:
                raise ValueError(f"has {kp.shape[0]} frames, the timeline has {num_frames}")
            tl.keypoints = kp
            item = spec["keypoints"]
            if "bbox" in item:
                tl.bbox = np.asarray(item["bbox"], np.float32).reshape(-1, 3)
                if tl.bbox.shape[0] == 1:
                    tl.bbox = np.repeat(tl.bbox, kp.shape[0], 0)
                if tl.bbox.shape[0] != kp.shape[0]:
                    raise ValueError(f"bbox has {tl.bbox.shape[0]} rows, expected 1 or {kp.shape[0]}")
            else:
                tl.bbox = bbox_from_keypoints(kp)
            if "intrinsics" in item:
                tl.intrinsics = np.asarray(item["intrinsics"], np.float32).reshape(3, 3)
        except (ValueError, TypeError) as e:
            err(f"keypoints: {e}")
    tl.intrinsics = default_intrinsics(*tl.image_size) if tl.intrinsics is None else tl.intrinsics

    feats = array_item("image_features", (1024,))
    if feats is not None:
        feats = np.asarray(feats if not isinstance(feats, dict) else next(iter(feats.values())), np.float32)
        if feats.ndim != 2 or feats.shape[1] != 1024 or (num_frames and feats.shape[0] != num_frames):
            err(f"image_features: expected ({num_frames}, 1024), got {feats.shape}")
        else:
            tl.image_features = feats

    camera = spec.get("camera")
    if camera is not None:
        if isinstance(camera, dict) and camera.get("static", False) and "file" not in camera:
            tl.static_camera = True
        else:
            rot = array_item("camera", (3, 3))
            if rot is not None:
                rot = np.asarray(rot if not isinstance(rot, dict) else rot.get("R_w2c"), np.float32)
                if rot.shape != (num_frames, 3, 3):
                    err(f"camera: expected R_w2c of shape ({num_frames}, 3, 3), got {rot.shape}")
                else:
                    tl.R_w2c = rot
                    tl.static_camera = False

    keys = array_item("keyframes", None)
    if keys is not None:
        frames = np.asarray(spec["keyframes"].get("frames", []), np.int64)
        if not isinstance(keys, dict):
            err("keyframes: expected an .npz of SMPL params (body_pose, global_orient, ...)")
        elif frames.size == 0:
            err("keyframes: needs 'frames', the frame index of each keyframe")
        elif (frames < 0).any() or (num_frames and (frames >= num_frames).any()):
            err(f"keyframes: frames {frames.tolist()} outside 0..{num_frames - 1}")
        else:
            for k in ("body_pose", "global_orient"):
                if k not in keys:
                    err(f"keyframes: the npz needs '{k}'")
                elif keys[k].shape[0] != frames.size:
                    err(f"keyframes: '{k}' has {keys[k].shape[0]} rows for {frames.size} frames")
            tl.keyframes, tl.keyframe_frames = keys, frames

    if tl.estimation and tl.keypoints is None and tl.image_features is None:
        err("'estimation': true needs 2D input ('keypoints' or 'image_features')")
    if errors:
        raise TimelineError("invalid timeline:\n  " + "\n  ".join(errors))
    return tl
