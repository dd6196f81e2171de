"""Small EMDB / RICH / 3DPW test folders in exactly the official layout (see `test_files`).

The files are torch `.pt` pickles written with the torch-free `torch_pickle.save` (tensors where
the release stores tensors, numpy arrays where it stores numpy, e.g. the SLAM trajectories).
Ground truth is a simple synthetic walk (hip/knee swings, a slowly turning heading, 4 cm/frame)
of the given body model, seen by a panning camera that tracks the pelvis; 2D keypoints are the
body's COCO-17 joints projected with the benchmark's intrinsics, boxes come from their extent,
image features are random (meaningless: they only exercise the pipeline). The SLAM camera equals
the GT camera rotation, so with `camera="gt"` or `"slam"` the model sees the true camera motion.

    python -m genmo_jax.evaluate.fixtures --out DIR      # writes DIR/{EMDB,RICH,3DPW}/hmr4d_support
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from genmo_jax import torch_pickle
from genmo_jax.body import smpl
from genmo_jax.body.rotations import axis_angle_to_matrix
from genmo_jax.evaluate import test_files
from genmo_jax.motion.camera import world_to_camera_params

AsNumpy = torch_pickle.AsNumpy


def default_body():
    from genmo_jax.body.select import body_model_from_config

    return body_model_from_config({"model": "open"})


def _padded(frames, *arrays):
    """Arrays (F, ...) padded with their last frame to a fixed bucket, so the jitted body functions
    compile once for all fixture lengths; slice results with [:frames]."""
    bucket = max(64, int(2 ** np.ceil(np.log2(frames))))
    return [np.concatenate([a, np.repeat(a[-1:], bucket - frames, 0)], 0) for a in arrays]


def synthetic_walk(body, frames, seed=0):
    """World (y-up) SMPL params of a walk: body_pose (F, 69), betas (F, 10), global_orient, transl (F, 3)."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float32)
    phase = 2 * np.pi * t / 30.0 + rng.uniform(0, 2 * np.pi)
    pose = np.zeros((frames, 23, 3), np.float32)
    swing = 0.45 * np.sin(phase)
    pose[:, 0, 0], pose[:, 1, 0] = swing, -swing  # hips about x
    pose[:, 3, 0] = 0.5 * np.clip(np.sin(phase + 1.2), 0, None)  # knees bend forward
    pose[:, 4, 0] = 0.5 * np.clip(np.sin(phase + 1.2 + np.pi), 0, None)
    pose[:, 15, 2], pose[:, 16, 2] = -1.2, 1.2  # arms down
    pose[:, 17, 1], pose[:, 18, 1] = 0.3 * np.sin(phase), 0.3 * np.sin(phase)
    pose += rng.normal(scale=0.03, size=pose.shape).astype(np.float32)
    yaw = rng.uniform(-np.pi, np.pi) + 0.01 * t
    orient = np.stack([np.zeros_like(yaw), yaw, np.zeros_like(yaw)], -1).astype(np.float32)
    step = 0.04 * np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], -1)  # the body faces +z at yaw 0
    transl = np.concatenate([np.zeros((1, 3)), np.cumsum(step[:-1], 0)], 0).astype(np.float32)
    betas = np.repeat(rng.normal(scale=0.5, size=(1, 10)).astype(np.float32), frames, 0)
    params = {"body_pose": pose.reshape(frames, 69), "betas": betas, "global_orient": orient, "transl": transl}
    joints = np.asarray(smpl.skeleton_forward(body, *_padded(frames, betas, orient, params["body_pose"], transl)))
    params["transl"] = transl - np.float32([0.0, joints[..., 1].min(), 0.0])  # feet on y = 0
    return params


def look_at(camera_centres, targets):
    """OpenCV world-to-camera (F, 3, 3), (F, 3) for cameras at `camera_centres` looking at `targets` (y-up world)."""
    z = targets - camera_centres
    z /= np.linalg.norm(z, axis=-1, keepdims=True)
    x = np.cross(z, np.float32([0.0, 1.0, 0.0]))
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    y = np.cross(z, x)
    R = np.stack([x, y, z], -2).astype(np.float32)
    return R, -np.einsum("fij,fj->fi", R, camera_centres).astype(np.float32)


def transform_params(body, params, R, t):
    """SMPL params moved by the rigid map x -> R x + t (R (F, 3, 3) or (3, 3), t (F, 3) or (3,))."""
    frames = params["transl"].shape[0]
    R = np.broadcast_to(np.asarray(R, np.float32), (frames, 3, 3))
    t = np.broadcast_to(np.asarray(t, np.float32), (frames, 3))
    betas, orient, transl, R, t = _padded(frames, params["betas"], params["global_orient"], params["transl"], R, t)
    root = np.asarray(smpl.rest_joints(body, betas))[..., 0, :]
    orient, transl = world_to_camera_params(orient, transl, R, t, root)
    return dict(params, global_orient=np.asarray(orient, np.float32)[:frames],
                transl=np.asarray(transl, np.float32)[:frames])


def observe(body, params_w, R_w2c, t_w2c, K, rng):
    """2D COCO-17 keypoints (F, 17, 3) px + confidence and boxes (F, 3) of the body seen by the camera."""
    params_c = transform_params(body, params_w, R_w2c, t_w2c)
    frames = params_c["transl"].shape[0]
    pose = params_c["body_pose"]
    if pose.shape[1] == 63 and body.num_joints > 22:  # explicit zero hand rotations: one compiled program
        pose = np.pad(pose, ((0, 0), (0, 3 * (body.num_joints - 1) - 63)))
    out = smpl.forward(body, *_padded(frames, params_c["betas"], params_c["global_orient"], pose, params_c["transl"]))
    coco = np.asarray(smpl.coco17_joints(body, out["vertices"]))[:frames]
    xy = coco[..., :2] / coco[..., 2:3] * np.float32([K[0, 0], K[1, 1]]) + np.float32([K[0, 2], K[1, 2]])
    conf = rng.uniform(0.6, 1.0, size=xy.shape[:-1] + (1,)).astype(np.float32)
    low, high = xy.min(1), xy.max(1)
    bbx = np.concatenate([(low + high) / 2, 1.2 * (high - low).max(-1, keepdims=True)], -1).astype(np.float32)
    return np.concatenate([xy, conf], -1).astype(np.float32), bbx


def _tracking_camera(params, distance, height, seed):
    rng = np.random.default_rng(seed)
    pelvis = params["transl"] + np.float32([0.0, 0.9, 0.0])
    angle = rng.uniform(0, 2 * np.pi)
    centre = pelvis[0] + np.float32([distance * np.sin(angle), height, distance * np.cos(angle)])
    drift = np.linspace(0, 0.5, len(pelvis))[:, None] * np.float32([1, 0, 0])  # the camera moves 0.5 m along x
    centres = np.repeat(centre[None], len(pelvis), 0) + drift
    return look_at(centres.astype(np.float32), pelvis.astype(np.float32))


def _T(R, t):
    T = np.zeros(R.shape[:-2] + (4, 4), np.float32)
    T[..., :3, :3], T[..., :3, 3], T[..., 3, 3] = R, t, 1.0
    return T


def _flipped_bbx(bbx, width):
    flipped = bbx.copy()
    flipped[:, 0] = width - 1 - bbx[:, 0]
    return flipped


def _slam(R_w2c, t_w2c):
    R_c2w = np.swapaxes(R_w2c, -1, -2)
    return {"pred_cam_R": AsNumpy(R_c2w), "pred_cam_T": AsNumpy(-np.einsum("fij,fj->fi", R_c2w, t_w2c)),
            "all_scales": AsNumpy(np.ones(len(R_w2c), np.float32)), "scale": 1.0}


def write_emdb(out_dir, body=None, names=("P1_14_outdoor_climb", "P0_09_outdoor_walk"), frames=(40, 36), seed=0):
    """EMDB hmr4d_support folder: emdb_vit_v4.pt, emdb_slam_traj.pt, imgfeats/emdb_flip/<vid>.pt."""
    body = body or default_body()
    rng = np.random.default_rng(seed)
    labels, traj = {}, {}
    for k, (vid, num) in enumerate(zip(names, frames)):
        params = synthetic_walk(body, num, seed + k)
        width, height = (720, 960) if vid == test_files.EMDB_SMALL_VIDEO else (1440, 1920)
        K = test_files.estimate_K(width, height)
        R, t = _tracking_camera(params, 4.0, 0.6, seed + k)
        kp2d, bbx = observe(body, params, R, t, K, rng)
        mask = np.ones(num, bool)
        mask[[3, num - 5]] = False  # a few invalid frames, as EMDB's good_frames_mask has
        labels[vid] = {"name": vid, "gender": ("male", "female")[k % 2], "smpl_params": params, "mask": mask,
                       "K_fullimg": K, "T_w2c": _T(R, t), "bbx_xys": bbx, "kp2d": kp2d,
                       "features": rng.normal(size=(num, 1024)).astype(np.float32)}
        traj[vid] = _slam(R, t)
        torch_pickle.save({"bbx_xys": _flipped_bbx(bbx, width),
                           "features": rng.normal(size=(num, 1024)).astype(np.float32)},
                          os.path.join(out_dir, "imgfeats", "emdb_flip", f"{vid}.pt"))
    torch_pickle.save(labels, os.path.join(out_dir, "emdb_vit_v4.pt"))
    torch_pickle.save(traj, os.path.join(out_dir, "emdb_slam_traj.pt"))
    return out_dir


def write_3dpw(out_dir, body=None, names=("downtown_walkBridge_01_0",), frames=(44,), seed=1):
    """3DPW hmr4d_support folder: GT labels, boxes, keypoints, SLAM trajectories, features (+ flip)."""
    body = body or default_body()
    rng = np.random.default_rng(seed)
    labels, vid2bbx, vid2kp2d, traj = {}, {}, {}, {}
    width, height = 1080, 1920
    K = np.array([[1960.0, 0, 540.0], [0, 1960.0, 960.0], [0, 0, 1]], np.float32)
    for k, (vid, num) in enumerate(zip(names, frames)):
        params = synthetic_walk(body, num, seed + k)
        R, t = _tracking_camera(params, 4.5, 0.3, seed + k)
        kp2d, bbx = observe(body, params, R, t, K, rng)
        mask = np.ones(num, bool)
        mask[-2:] = False
        labels[vid] = {"vname": vid[:-2], "K_fullimg": K, "T_w2c": _T(R, t), "smpl_params": params,
                       "gender": ("female", "male")[k % 2], "mask_raw": np.ones(num, bool), "mask_wham": mask,
                       "img_wh": np.array([width, height], np.int64)}
        vid2bbx[vid] = {"bbx_xys": bbx}
        vid2kp2d[vid] = kp2d
        traj[vid] = _slam(R, t)
        torch_pickle.save({"features": rng.normal(size=(num, 1024)).astype(np.float32), "bbx_xys": bbx},
                          os.path.join(out_dir, "imgfeats", "3dpw_test", f"{vid}.pt"))
        torch_pickle.save({"features": rng.normal(size=(num, 1024)).astype(np.float32),
                           "bbx_xys": _flipped_bbx(bbx, width)},
                          os.path.join(out_dir, "imgfeats", "3dpw_test_flip", f"{vid}.pt"))
    torch_pickle.save(labels, os.path.join(out_dir, "test_3dpw_gt_labels.pt"))
    torch_pickle.save(vid2bbx, os.path.join(out_dir, "preproc_test_bbx.pt"))
    torch_pickle.save(vid2kp2d, os.path.join(out_dir, "preproc_test_kp2d_v0.pt"))
    torch_pickle.save(traj, os.path.join(out_dir, "3dpw_test_slam_traj.pt"))
    return out_dir


def write_rich(out_dir, body=None, vids=("test/Gym_013_burpee4/cam_06",), frames=(38,), seed=2):
    """RICH hmr4d_support folder (labels, pre-processed inputs) plus `resource/` (cameras, floor
    alignment, split list), as the release reads from its repository."""
    body = body or default_body()
    rng = np.random.default_rng(seed)
    labels, preproc, cam2params, w2az = {}, {}, {}, {}
    rows = ["sequence_name\tcapture_name\tscan_name\tid\tmoving_cam\tgender\tscene\taction\tsubjects\tview_id"]
    width, height = 4112, 3008
    K = np.array([[4000.0, 0, width / 2], [0, 4000.0, height / 2], [0, 0, 1]], np.float32)
    for k, (vid, num) in enumerate(zip(vids, frames)):
        _, seq_name, cam_name = vid.split("/")
        scene, subject = seq_name.split("_")[:2]
        params_ay = synthetic_walk(body, num, seed + k)
        params_ay["body_pose"] = params_ay["body_pose"][:, :63]  # SMPL-X body joints
        # The world of RICH labels is not y-up: pick a floor alignment T_w2az and express GT in w.
        yaw = rng.uniform(-np.pi, np.pi)
        T_w2az = _T(np.asarray(axis_angle_to_matrix(np.float32([0, 0, yaw]))), rng.normal(size=3).astype(np.float32))
        T_w2ay = _T(test_files.R_AZ_TO_AY, np.zeros(3, np.float32)) @ T_w2az
        T_ay2w = np.linalg.inv(T_w2ay).astype(np.float32)
        params_w = transform_params(body, params_ay, T_ay2w[:3, :3], T_ay2w[:3, 3])
        R_ay, t_ay = _tracking_camera(params_ay, 5.0, 0.8, seed + k)
        T_w2c = (_T(R_ay[0], t_ay[0]) @ T_w2ay).astype(np.float32)  # a static camera
        frames_R = np.repeat(T_w2c[None, :3, :3], num, 0)
        frames_t = np.repeat(T_w2c[None, :3, 3], num, 0)
        kp2d, bbx = observe(body, params_w, frames_R, frames_t, K, rng)
        gender = ("male", "female")[k % 2]
        labels[vid] = {"gt_smplx_params": params_w, "gender": gender, "frame_id": np.arange(num, dtype=np.int64) * 4}
        preproc[vid] = {"f_imgseq": rng.normal(size=(num, 1024)).astype(np.float32), "bbx_xys": bbx,
                        "img_wh": np.array([width, height], np.int64), "kp2d": kp2d}
        cam2params[f"{scene}_{int(cam_name.split('_')[1])}"] = (T_w2c, K)
        w2az[f"{scene}_scan{subject}"] = T_w2az.tolist()
        rows.append(f"{seq_name}\t{scene}\tscan{subject}\t{int(subject)}\t0\t{gender}\t{scene}\twalk\t1\t"
                    f"{int(cam_name.split('_')[1])}")
    torch_pickle.save(labels, os.path.join(out_dir, "rich_test_labels.pt"))
    torch_pickle.save(preproc, os.path.join(out_dir, "rich_test_preproc.pt"))
    resource = os.path.join(out_dir, "resource")
    torch_pickle.save(cam2params, os.path.join(resource, "cam2params.pt"))
    with open(os.path.join(resource, "w2az_sahmr.json"), "w") as f:
        json.dump(w2az, f)
    with open(os.path.join(resource, "test.txt"), "w") as f:
        f.write("\n".join(rows) + "\n")
    return out_dir


WRITERS = {"emdb": write_emdb, "3dpw": write_3dpw, "rich": write_rich}
FOLDERS = {"emdb": "EMDB", "3dpw": "3DPW", "rich": "RICH"}


def write_all(root, body=None):
    """All three folders under root/{EMDB,RICH,3DPW}/hmr4d_support; returns {name: folder}."""
    body = body or default_body()
    return {name: writer(os.path.join(root, FOLDERS[name], "hmr4d_support"), body) for name, writer in WRITERS.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m genmo_jax.evaluate.fixtures", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="root folder for {EMDB,RICH,3DPW}/hmr4d_support")
    args = parser.parse_args(argv)
    for name, folder in write_all(args.out).items():
        print(f"{name:5s} {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
