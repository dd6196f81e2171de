"""Readers of the official estimation test files (GVHMR / GEM "hmr4d_support" folders), torch-free.

Field names, shapes and conventions are those the released loaders read (SPEC B 5.1, 6.3; GEM
`gem/datasets/{emdb,rich,threedpw}/*_motion_test.py`, GVHMR `hmr4d/dataset/*`):

EMDB (`--data inputs/EMDB/hmr4d_support`)
  emdb_vit_v4.pt   {vid: {name, gender, smpl_params {body_pose (F, 69), betas (F, 10),
                   global_orient (F, 3), transl (F, 3)} SMPL world, mask (F,) bool, K_fullimg (3, 3),
                   T_w2c (F, 4, 4), bbx_xys (F, 3), kp2d (F, 17, 3), features (F, 1024)}}
  emdb_slam_traj.pt {vid: {pred_cam_R (F, 3, 3) camera-to-world, pred_cam_T (F, 3), all_scales (F,),
                   scale}} (DROID-SLAM, numpy arrays)
  imgfeats/emdb_flip/<vid>.pt {bbx_xys (F, 3), features (F, 1024)} (flip test)
  K is the release's estimate_K(W, H): focal max(W, H), principal point at the centre, with
  (W, H) = (1440, 1920), (720, 960) for P0_09_outdoor_walk (the stored K_fullimg is not used).
  Splits: EMDB-1 = 17 sequences (camera metrics), EMDB-2 = 25 (world metrics).
RICH (`--data inputs/RICH/hmr4d_support`, `--rich-resource` = GEM `gem/datasets/rich/resource`)
  rich_test_labels.pt {vid "test/<seq>/cam_<id>": {gt_smplx_params {betas, global_orient,
                   transl, body_pose (F, 63), ...} SMPL-X world, gender, frame_id (F,)}}
  rich_test_preproc.pt {vid: {f_imgseq (F, 1024), bbx_xys (F, 3), img_wh (2,), kp2d (F, 17, 3)}}
  resource/cam2params.pt {"<scene>_<cam id>": (T_w2c (4, 4), K (3, 3))} static cameras;
  resource/w2az_sahmr.json {"<capture>_<scan>": T_w2az 4x4}; resource/{train,val,test}.txt rows
  `sequence_name capture_name scan_name id moving_cam gender ... view_id` (multi-person
  sequences, whose name has more than 3 "_" parts, skipped). World GT -> y-up: T_w2ay =
  [R_x(-90 deg) | 0] @ T_w2az. The release scores RICH GT with the neutral SMPL-X model.
3DPW (`--data inputs/3DPW/hmr4d_support`)
  test_3dpw_gt_labels.pt {vid: {vname, K_fullimg (3, 3), T_w2c (F, 4, 4), smpl_params (SMPL
                   world, body_pose (F, 69)), gender, mask_raw, mask_wham (F,) bool, img_wh (2,)}}
  preproc_test_bbx.pt {vid: {bbx_xys (F, 3)}}; preproc_test_kp2d_v0.pt {vid: (F, 17, 3)}
  3dpw_test_slam_traj.pt (as EMDB's); imgfeats/3dpw_test/<vid>.pt {features (F, 1024)};
  imgfeats/3dpw_test_flip/<vid>.pt {bbx_xys, features} (flip test). Valid frames = mask_wham.

Flip-test inputs (SPEC B 6.4 step 3): features and boxes from the flip folder, keypoints with
left/right swapped and x -> W - 1 - x, camera R_w2c pre-multiplied by diag(1, -1, -1).
A missing file, field or a wrong shape raises one line naming the file, sequence and field.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Optional

import numpy as np

from genmo_jax import torch_pickle
from genmo_jax.body.skeletons import COCO17_FLIP_PERM

EMDB1_NAMES = (
    "P1_14_outdoor_climb", "P2_23_outdoor_hug_tree", "P3_31_outdoor_workout", "P3_32_outdoor_soccer_warmup_a",
    "P3_33_outdoor_soccer_warmup_b", "P5_42_indoor_dancing", "P5_44_indoor_rom", "P6_49_outdoor_big_stairs_down",
    "P6_50_outdoor_workout", "P6_51_outdoor_dancing", "P7_57_outdoor_rock_chair", "P7_59_outdoor_rom",
    "P7_60_outdoor_workout", "P8_64_outdoor_skateboard", "P8_68_outdoor_handstand", "P8_69_outdoor_cartwheel",
    "P9_76_outdoor_sitting")
EMDB2_NAMES = (
    "P0_09_outdoor_walk", "P2_19_indoor_walk_off_mvs", "P2_20_outdoor_walk", "P2_24_outdoor_long_walk",
    "P3_27_indoor_walk_off_mvs", "P3_28_outdoor_walk_lunges", "P3_29_outdoor_stairs_up", "P3_30_outdoor_stairs_down",
    "P4_35_indoor_walk", "P4_36_outdoor_long_walk", "P4_37_outdoor_run_circle", "P5_40_indoor_walk_big_circle",
    "P6_48_outdoor_walk_downhill", "P6_49_outdoor_big_stairs_down", "P7_55_outdoor_walk",
    "P7_56_outdoor_stairs_up_down",
    "P7_57_outdoor_rock_chair", "P7_58_outdoor_parcours", "P7_61_outdoor_sit_lie_walk", "P8_64_outdoor_skateboard",
    "P8_65_outdoor_walk_straight", "P9_77_outdoor_stairs_up", "P9_78_outdoor_stairs_up_down",
    "P9_79_outdoor_walk_rectangle", "P9_80_outdoor_walk_big_circle")
EMDB_SMALL_VIDEO = "P0_09_outdoor_walk"
R_FLIP_CAMERA = np.diag([1.0, -1.0, -1.0]).astype(np.float32)
R_AZ_TO_AY = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], np.float32)  # rotation of -90 deg about x
SMPL_PARAM_KEYS = ("body_pose", "betas", "global_orient", "transl")


@dataclasses.dataclass
class TestSequence:
    """One test sequence, numpy float32, F frames at 30 fps, pixels / metres / radians.

    Model inputs: kp2d (F, 17, 3) COCO-17 px + confidence, bbx_xys (F, 3) (cx, cy, size) px,
    K (3, 3), image_size (W, H), f_imgseq (F, 1024), R_w2c (F, 3, 3) the camera rotation the
    benchmark feeds (DROID-SLAM or GT). Ground truth: gt_params world SMPL(-X) params (F, ...),
    gt_gender, gt_model ("smpl" or "smplx"), gt_T_w2c (F, 4, 4) world -> camera,
    gt_T_w2eval (4, 4) world -> the frame of the world metrics (RICH: y-up AY; else identity),
    mask (F,) bool valid frames. flip: the flipped inputs {kp2d, bbx_xys, f_imgseq, R_w2c} or None.
    """

    name: str
    kp2d: np.ndarray
    bbx_xys: np.ndarray
    K: np.ndarray
    image_size: tuple
    f_imgseq: np.ndarray
    R_w2c: np.ndarray
    mask: np.ndarray
    gt_params: dict
    gt_gender: str
    gt_model: str
    gt_T_w2c: np.ndarray
    gt_T_w2eval: np.ndarray
    flip: Optional[dict] = None

    @property
    def num_frames(self):
        return self.kp2d.shape[0]


def _load(path):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"test file not found: {path}")
    return torch_pickle.load(path)


def _get(container, key, where):
    if not isinstance(container, dict) or key not in container:
        have = sorted(container) if isinstance(container, dict) else type(container).__name__
        shown = have[:12] if isinstance(have, list) else have
        raise ValueError(f"{where}: missing field '{key}' (has {shown})")
    return container[key]


def _array(value, shape, where, dtype=np.float32):
    """value as an array of `shape` (ints, None = any size, "F" = the frame count given as ("F", F))."""
    array = np.asarray(value)
    if dtype is not None:
        array = array.astype(dtype)
    expected = tuple(s[1] if isinstance(s, tuple) else s for s in shape)
    ok = array.ndim == len(expected) and all(e is None or e == a for e, a in zip(expected, array.shape))
    if not ok:
        spec = tuple("F" if isinstance(s, tuple) else ("*" if s is None else s) for s in shape)
        frames = next((s[1] for s in shape if isinstance(s, tuple)), None)
        raise ValueError(f"{where}: shape {array.shape}, expected {spec}" + (f" with F = {frames}" if frames else ""))
    return array


def _smpl_params(params, frames, where, pose_dims=(63, 69)):
    out = {}
    for key in SMPL_PARAM_KEYS:
        value = _get(params, key, where)
        if key == "body_pose":
            array = _array(value, (("F", frames), None), f"{where}.{key}")
            if array.shape[1] not in pose_dims:
                dims = " or ".join(map(str, pose_dims))
                raise ValueError(f"{where}.{key}: shape {array.shape}, expected (F, {dims})")
        else:
            array = _array(value, (("F", frames), 10 if key == "betas" else 3), f"{where}.{key}")
        out[key] = array
    return out


def flip_kp2d(kp2d, width):
    """COCO-17 keypoints of the horizontally flipped image: L/R swapped, x -> W - 1 - x."""
    flipped = np.array(kp2d[..., np.array(COCO17_FLIP_PERM), :], np.float32)
    flipped[..., 0] = width - 1 - flipped[..., 0]
    return flipped


def estimate_K(width, height):
    """The release's intrinsics guess: focal max(W, H) px, principal point at the image centre."""
    focal = float(max(width, height))
    return np.array([[focal, 0, width / 2.0], [0, focal, height / 2.0], [0, 0, 1]], np.float32)


def _slam_R_w2c(traj_file, traj, vid, frames):
    where = f"{traj_file}: {vid}"
    entry = _get(traj, vid, traj_file)
    R_c2w = _array(_get(entry, "pred_cam_R", where), (("F", frames), 3, 3), f"{where}.pred_cam_R")
    _array(_get(entry, "pred_cam_T", where), (("F", frames), 3), f"{where}.pred_cam_T")
    return np.ascontiguousarray(np.swapaxes(R_c2w, -1, -2))


def _flip_inputs(flip_file, kp2d, width, R_w2c, frames):
    entry = _load(flip_file)
    return {"f_imgseq": _array(_get(entry, "features", flip_file), (("F", frames), 1024), f"{flip_file}: features"),
            "bbx_xys": _array(_get(entry, "bbx_xys", flip_file), (("F", frames), 3), f"{flip_file}: bbx_xys"),
            "kp2d": flip_kp2d(kp2d, width), "R_w2c": np.einsum("ij,fjk->fik", R_FLIP_CAMERA, R_w2c)}


def _per_frame_T(T, frames, where):
    T = np.asarray(T, np.float32)
    if T.shape == (4, 4):
        return np.repeat(T[None], frames, 0)
    return _array(T, (("F", frames), 4, 4), where)


def read_emdb(data_dir, split, camera="slam", flip=False):
    """EMDB-1 (split 1) or EMDB-2 (split 2) sequences present in the files -> (sequences, missing names)."""
    labels_file = os.path.join(data_dir, "emdb_vit_v4.pt")
    labels = _load(labels_file)
    names = EMDB1_NAMES if split == 1 else EMDB2_NAMES
    present = [n for n in names if n in labels]
    if not present:
        raise ValueError(f"{labels_file}: none of the EMDB-{split} sequences ({names[0]}, ...) is present")
    traj_file = os.path.join(data_dir, "emdb_slam_traj.pt")
    traj = _load(traj_file) if camera == "slam" else None
    sequences = []
    for vid in present:
        label = labels[vid]
        where = f"{labels_file}: {vid}"
        mask = _array(_get(label, "mask", where), (None,), f"{where}.mask", dtype=bool)
        frames = mask.shape[0]
        kp2d = _array(_get(label, "kp2d", where), (("F", frames), 17, 3), f"{where}.kp2d")
        width, height = (720, 960) if vid == EMDB_SMALL_VIDEO else (1440, 1920)
        gt_T_w2c = _per_frame_T(_get(label, "T_w2c", where), frames, f"{where}.T_w2c")
        R_w2c = _slam_R_w2c(traj_file, traj, vid, frames) if camera == "slam" else gt_T_w2c[:, :3, :3].copy()
        seq = TestSequence(
            name=vid, kp2d=kp2d,
            bbx_xys=_array(_get(label, "bbx_xys", where), (("F", frames), 3), f"{where}.bbx_xys"),
            K=estimate_K(width, height), image_size=(width, height),
            f_imgseq=_array(_get(label, "features", where), (("F", frames), 1024), f"{where}.features"),
            R_w2c=R_w2c, mask=mask,
            gt_params=_smpl_params(_get(label, "smpl_params", where), frames, f"{where}.smpl_params"),
            gt_gender=str(_get(label, "gender", where)), gt_model="smpl", gt_T_w2c=gt_T_w2c,
            gt_T_w2eval=np.eye(4, dtype=np.float32))
        if flip:
            seq.flip = _flip_inputs(os.path.join(data_dir, "imgfeats", "emdb_flip", f"{vid}.pt"), kp2d, width,
                                    R_w2c, frames)
        sequences.append(seq)
    return sequences, [n for n in names if n not in labels]


def _rich_resources(resource_dir):
    for name in ("cam2params.pt", "w2az_sahmr.json", "test.txt"):
        if not os.path.isfile(os.path.join(resource_dir, name)):
            raise FileNotFoundError(f"RICH resource file not found: {os.path.join(resource_dir, name)} "
                                    "(--rich-resource = GEM's gem/datasets/rich/resource folder)")
    cam2params = torch_pickle.load(os.path.join(resource_dir, "cam2params.pt"))
    with open(os.path.join(resource_dir, "w2az_sahmr.json")) as f:
        w2az = {k: np.asarray(v, np.float32) for k, v in json.load(f).items()}
    seq_to_scan = {}
    for split in ("train", "val", "test"):
        path = os.path.join(resource_dir, f"{split}.txt")
        if not os.path.isfile(path):
            continue
        with open(path) as f:
            for line in f.readlines()[1:]:
                values = line.strip().split()
                if len(values) < 3 or len(values[0].split("_")) != 3:  # multi-person sequences are skipped
                    continue
                seq_to_scan[values[0]] = f"{values[1]}_{values[2]}"
    return cam2params, w2az, seq_to_scan


def read_rich(data_dir, resource_dir=None):
    """RICH test sequences -> (sequences, []) (all sequences of the labels file)."""
    resource_dir = resource_dir or os.path.join(data_dir, "resource")
    labels_file = os.path.join(data_dir, "rich_test_labels.pt")
    preproc_file = os.path.join(data_dir, "rich_test_preproc.pt")
    labels, preproc = _load(labels_file), _load(preproc_file)
    cam2params, w2az, seq_to_scan = _rich_resources(resource_dir)
    sequences = []
    for vid, label in labels.items():
        where = f"{labels_file}: {vid}"
        parts = vid.split("/")
        if len(parts) != 3 or not parts[2].startswith("cam_"):
            raise ValueError(f"{labels_file}: sequence key {vid!r} is not 'test/<sequence>/cam_<id>'")
        frames = _array(_get(label, "frame_id", where), (None,), f"{where}.frame_id", dtype=None).shape[0]
        pre = _get(preproc, vid, preproc_file)
        pwhere = f"{preproc_file}: {vid}"
        cam_key = f"{parts[1].split('_')[0]}_{int(parts[2].split('_')[1])}"
        cam = _get(cam2params, cam_key, os.path.join(resource_dir, "cam2params.pt"))
        T_w2c = _array(cam[0], (4, 4), f"cam2params.pt: {cam_key}[0]")
        K = _array(cam[1], (3, 3), f"cam2params.pt: {cam_key}[1]")
        scan = _get(seq_to_scan, parts[1], os.path.join(resource_dir, "{train,val,test}.txt"))
        T_w2az = _array(_get(w2az, scan, os.path.join(resource_dir, "w2az_sahmr.json")), (4, 4), f"w2az: {scan}")
        T_az2ay = np.eye(4, dtype=np.float32)
        T_az2ay[:3, :3] = R_AZ_TO_AY
        width, height = (int(v) for v in _array(_get(pre, "img_wh", pwhere), (2,), f"{pwhere}.img_wh"))
        sequences.append(TestSequence(
            name=vid, kp2d=_array(_get(pre, "kp2d", pwhere), (("F", frames), 17, 3), f"{pwhere}.kp2d"),
            bbx_xys=_array(_get(pre, "bbx_xys", pwhere), (("F", frames), 3), f"{pwhere}.bbx_xys"),
            K=K, image_size=(width, height),
            f_imgseq=_array(_get(pre, "f_imgseq", pwhere), (("F", frames), 1024), f"{pwhere}.f_imgseq"),
            R_w2c=np.repeat(T_w2c[None, :3, :3], frames, 0), mask=np.ones(frames, bool),
            gt_params=_smpl_params(_get(label, "gt_smplx_params", where), frames, f"{where}.gt_smplx_params",
                                   pose_dims=(63,)),
            gt_gender=str(_get(label, "gender", where)), gt_model="smplx",
            gt_T_w2c=np.repeat(T_w2c[None], frames, 0), gt_T_w2eval=T_az2ay @ T_w2az))
    if not sequences:
        raise ValueError(f"{labels_file}: no sequences")
    return sequences, []


def read_3dpw(data_dir, camera="slam", flip=False):
    """3DPW test sequences -> (sequences, [])."""
    labels_file = os.path.join(data_dir, "test_3dpw_gt_labels.pt")
    bbx_file = os.path.join(data_dir, "preproc_test_bbx.pt")
    kp2d_file = os.path.join(data_dir, "preproc_test_kp2d_v0.pt")
    labels, vid2bbx, vid2kp2d = _load(labels_file), _load(bbx_file), _load(kp2d_file)
    traj_file = os.path.join(data_dir, "3dpw_test_slam_traj.pt")
    traj = _load(traj_file) if camera == "slam" else None
    sequences = []
    for vid, label in labels.items():
        where = f"{labels_file}: {vid}"
        mask = _array(_get(label, "mask_wham", where), (None,), f"{where}.mask_wham", dtype=bool)
        frames = mask.shape[0]
        width, height = (int(v) for v in _array(_get(label, "img_wh", where), (2,), f"{where}.img_wh"))
        gt_T_w2c = _per_frame_T(_get(label, "T_w2c", where), frames, f"{where}.T_w2c")
        kp2d = _array(_get(vid2kp2d, vid, kp2d_file), (("F", frames), 17, 3), f"{kp2d_file}: {vid}")
        feat_file = os.path.join(data_dir, "imgfeats", "3dpw_test", f"{vid}.pt")
        R_w2c = _slam_R_w2c(traj_file, traj, vid, frames) if camera == "slam" else gt_T_w2c[:, :3, :3].copy()
        seq = TestSequence(
            name=vid, kp2d=kp2d,
            bbx_xys=_array(_get(_get(vid2bbx, vid, bbx_file), "bbx_xys", f"{bbx_file}: {vid}"),
                           (("F", frames), 3), f"{bbx_file}: {vid}.bbx_xys"),
            K=_array(_get(label, "K_fullimg", where), (3, 3), f"{where}.K_fullimg"), image_size=(width, height),
            f_imgseq=_array(_get(_load(feat_file), "features", feat_file), (("F", frames), 1024),
                            f"{feat_file}: features"),
            R_w2c=R_w2c, mask=mask,
            gt_params=_smpl_params(_get(label, "smpl_params", where), frames, f"{where}.smpl_params"),
            gt_gender=str(_get(label, "gender", where)), gt_model="smpl", gt_T_w2c=gt_T_w2c,
            gt_T_w2eval=np.eye(4, dtype=np.float32))
        if flip:
            seq.flip = _flip_inputs(os.path.join(data_dir, "imgfeats", "3dpw_test_flip", f"{vid}.pt"), kp2d, width,
                                    R_w2c, frames)
        sequences.append(seq)
    if not sequences:
        raise ValueError(f"{labels_file}: no sequences")
    return sequences, []


def read_benchmark(name, data_dir, camera="slam", flip=False, rich_resource=None):
    """The test sequences of an estimation benchmark: (sequences, names missing from the files)."""
    if not os.path.isdir(data_dir):
        raise FileNotFoundError(f"--data {data_dir!r} is not a directory (give the benchmark's hmr4d_support folder)")
    if name in ("emdb1", "emdb2"):
        return read_emdb(data_dir, 1 if name == "emdb1" else 2, camera=camera, flip=flip)
    if name == "3dpw":
        return read_3dpw(data_dir, camera=camera, flip=flip)
    if name == "rich":
        if flip:
            raise ValueError("--flip-test: RICH has no flipped image features (the release flip-tests EMDB and 3DPW)")
        return read_rich(data_dir, rich_resource)
    raise ValueError(f"{name!r} is not an estimation benchmark with test files (3dpw, emdb1, emdb2, rich)")
