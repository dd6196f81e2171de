"""Tiny datasets written in each dataset's official on-disk layout, for converter tests.

Every writer returns the ground truth it wrote, so tests compare converted records against
known values (frame rate, axes, units, lengths). Motions are smooth sinusoids, not real data.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

# A SMPL-like rest skeleton (T-pose, y-up, metres), made up for tests: joint positions only
# matter through the kinematic chain. Rows follow the SMPL 24-joint order.
_REST = np.array([
    [0.0, 0.92, 0.0], [0.07, 0.83, 0.0], [-0.07, 0.83, 0.0], [0.0, 1.03, -0.02],
    [0.10, 0.45, 0.0], [-0.10, 0.45, 0.0], [0.0, 1.16, 0.0], [0.09, 0.06, -0.03],
    [-0.09, 0.06, -0.03], [0.0, 1.21, 0.02], [0.11, 0.01, 0.10], [-0.11, 0.01, 0.10],
    [0.0, 1.43, -0.01], [0.08, 1.35, 0.0], [-0.08, 1.35, 0.0], [0.0, 1.52, 0.04],
    [0.18, 1.38, -0.01], [-0.18, 1.38, -0.01], [0.44, 1.37, -0.03], [-0.44, 1.37, -0.03],
    [0.70, 1.37, -0.01], [-0.70, 1.37, -0.01], [0.79, 1.36, -0.02], [-0.79, 1.36, -0.02]])


def synthetic_rest_joints(betas, gender="neutral"):
    """Test body: rest joints (24, 3) whose size grows with betas[0] (5 % per unit)."""
    del gender
    scale = 1.0 + 0.05 * float(np.asarray(betas).reshape(-1)[0])
    return _REST * scale


def smooth_pose(num_frames: int, num_joints: int, fps: float, seed: int = 0) -> np.ndarray:
    """(F, J, 3) axis-angle: per-joint sinusoids of ~0.3 rad at 0.5-1.5 Hz."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames)[:, None, None] / fps
    freq = rng.uniform(0.5, 1.5, (1, num_joints, 3))
    phase = rng.uniform(0, 2 * np.pi, (1, num_joints, 3))
    return 0.3 * np.sin(2 * np.pi * freq * t + phase)


def write_amass(root, seed: int = 0) -> dict:
    """Two AMASS sequences (SMPL+H G at 120 fps, SMPL-X N at 60 fps) and a shape.npz.

    Subjects walk along +y of AMASS's z-up world at 1 m/s, pelvis params 0.9 m up.
    Returns {clip name: dict(poses (F, 22, 3), trans (F, 3) z-up, betas, gender, fps)}.
    """
    root = Path(root)
    truth = {}
    for name, fps, num_frames, width, rate_key, gender in (
            ("ACCAD/Female1Walking_c3d/B3_-_walk1_poses", 120.0, 241, 156, "mocap_framerate",
             "female"),
            ("CMU/01/01_01_stageii", 60.0, 91, 165, "mocap_frame_rate", "male")):
        path = root / f"{name}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed + num_frames)
        poses = np.zeros((num_frames, width))
        poses[:, :66] = smooth_pose(num_frames, 22, fps, seed + num_frames).reshape(-1, 66)
        # AMASS bodies stand in a z-up world: the root turns SMPL's y-up body by +90 deg about x.
        from scipy.spatial.transform import Rotation
        poses[:, :3] = (Rotation.from_euler("x", 90, degrees=True) *
                        Rotation.from_rotvec(0.3 * poses[:, :3])).as_rotvec()
        poses[:, 66:] = rng.normal(0, 0.1, (num_frames, width - 66))  # hands / face: ignored
        t = np.arange(num_frames) / fps
        trans = np.stack([0.1 * np.sin(t), 1.0 * t, 0.9 + 0.02 * np.sin(4 * t)], -1)
        betas = rng.normal(0, 1, 16)
        np.savez(path, poses=poses, trans=trans, betas=betas, gender=np.asarray(gender),
                 dmpls=np.zeros((num_frames, 8)), **{rate_key: np.asarray(fps)})
        truth[name] = dict(poses=poses[:, :66].reshape(-1, 22, 3), trans=trans, betas=betas,
                           gender=gender, fps=fps)
    shape_dir = root / "ACCAD/Female1Walking_c3d"
    np.savez(shape_dir / "shape.npz", betas=np.zeros(16), gender=np.asarray("female"))
    return truth


def write_humanml3d(root, amass_root) -> dict:
    """index.csv + texts/ referring to the AMASS fixture (write_amass first), and the release's
    split file test.txt (every id of index.csv, mirrored and HumanAct12 ones included, as there).

    Returns {clip id: dict(source, start, end, captions=[(text, start_s, end_s)])}.
    """
    root = Path(root)
    (root / "texts").mkdir(parents=True, exist_ok=True)
    rows = [
        ("./pose_data/ACCAD/Female1Walking_c3d/B3_-_walk1_poses.npy", 4, 30, "000000.npy",
         [("a person walks forward.", 0.0, 0.0), ("then the person sways.", 0.5, 1.0)]),
        ("./pose_data/CMU/01/01_01_stageii.npy", 0, 20, "000001.npy",
         [("someone strolls ahead slowly", 0.0, 0.0)]),
        ("./pose_data/ACCAD/Female1Walking_c3d/B3_-_walk1_poses.npy", 4, 30, "M000000.npy",
         [("mirrored: skipped", 0.0, 0.0)]),
        ("./pose_data/humanact12/humanact12/P01G01R01F0069T0143A0102.npy", 0, 10, "000002.npy",
         [("not from AMASS: skipped", 0.0, 0.0)]),
    ]
    with open(root / "index.csv", "w", encoding="utf-8") as handle:
        handle.write("source_path,start_frame,end_frame,new_name\n")
        for source, start, end, new_name, captions in rows:
            handle.write(f"{source},{start},{end},{new_name}\n")
            lines = [f"{c}#{' '.join(w + '/X' for w in c.split())}#{s}#{e}"
                     for c, s, e in captions]
            (root / "texts" / new_name.replace(".npy", ".txt")).write_text("\n".join(lines))
    (root / "test.txt").write_text("".join(Path(r[3]).stem + "\n" for r in rows))
    return {Path(r[3]).stem: dict(source=r[0], start=r[1], end=r[2], captions=r[4])
            for r in rows if not r[3].startswith("M") and "humanact12" not in r[0]}


def write_aistpp(root, with_music: bool = False) -> dict:
    """AIST++ layout: motions/<seq>.pkl (60 fps, cm, scaling), cameras/mapping.txt and
    cameras/<setting>.json (9 views), ignore_list.txt, splits/crossmodal_test.txt (all three
    sequences; the third is on the ignore list), and optionally wav/<music>.wav.

    Returns {seq: dict(smpl_poses (F, 72), smpl_trans (F, 3), smpl_scaling, cameras, music)}.
    """
    root = Path(root)
    for folder in ("motions", "cameras", "wav", "splits"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    truth = {}
    sequences = ["gBR_sBM_cAll_d04_mBR0_ch01", "gPO_sFM_cAll_d10_mPO1_ch02",
                 "gHO_sBM_cAll_d19_mHO2_ch03"]
    rng = np.random.default_rng(3)
    cameras = []
    for view in range(9):
        yaw = 2 * np.pi * view / 9
        # Cameras on a 4 m circle at 1.5 m height, looking at the origin (AIST++ is y-up).
        centre = np.array([4 * np.sin(yaw), 1.5, 4 * np.cos(yaw)]) * 100  # cm
        forward = -centre / np.linalg.norm(centre)
        right = np.cross(forward, [0, 1, 0]); right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        rotation = np.stack([right, down, forward])                     # world-to-camera rows
        from scipy.spatial.transform import Rotation
        cameras.append(dict(
            name=f"c{view + 1:02d}", size=[1920, 1080],
            matrix=[[1500.0 + view, 0, 960], [0, 1500.0 + view, 540], [0, 0, 1]],
            distortions=[0.0] * 5, rotation=Rotation.from_matrix(rotation).as_rotvec().tolist(),
            translation=(-rotation @ centre).tolist()))
    (root / "cameras" / "setting1.json").write_text(json.dumps(cameras))
    (root / "cameras" / "mapping.txt").write_text(
        "\n".join(f"{s} setting1" for s in sequences) + "\n")
    (root / "ignore_list.txt").write_text(sequences[2] + "\n")
    (root / "splits" / "crossmodal_test.txt").write_text("\n".join(sequences) + "\n")
    for index, seq in enumerate(sequences):
        num_frames = 121 + 20 * index
        poses = smooth_pose(num_frames, 24, 60.0, index).reshape(-1, 72)
        scaling = np.array([90.0 + index])
        t = np.arange(num_frames) / 60.0
        trans_m = np.stack([0.3 * np.sin(t), 0.95 + 0.05 * np.sin(3 * t), 0.2 * t], -1)
        with open(root / "motions" / f"{seq}.pkl", "wb") as handle:
            pickle.dump({"smpl_poses": poses, "smpl_trans": trans_m * scaling,
                         "smpl_scaling": scaling, "smpl_loss": np.float64(0.1)}, handle)
        music = seq.split("_")[4]
        if with_music:
            write_click_track(root / "wav" / f"{music}.wav", seconds=num_frames / 60.0 + 1,
                              bpm=120)
        truth[seq] = dict(smpl_poses=poses, smpl_trans=trans_m * scaling, smpl_scaling=scaling,
                          cameras=cameras, music=music)
    return truth


def click_track(seconds: float, bpm: float, rate: int = 22050) -> np.ndarray:
    """A click every beat plus a soft 440 Hz tone: float32 waveform."""
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.05 * np.sin(2 * np.pi * 440 * t)
    period = 60.0 / bpm
    for start in np.arange(0, seconds, period):
        i = int(start * rate)
        n = min(int(0.03 * rate), wave.shape[0] - i)
        wave[i:i + n] += 0.8 * np.exp(-np.arange(n) / (0.004 * rate)) * np.sign(
            np.sin(2 * np.pi * 1000 * np.arange(n) / rate))
    return wave.astype(np.float32)


def write_click_track(path, seconds: float, bpm: float, rate: int = 22050) -> None:
    import soundfile

    soundfile.write(str(path), click_track(seconds, bpm, rate), rate)


def write_motionx(root, with_keypoints: bool = True) -> dict:
    """Motion-X layout: motion_data/smplx_322/<subset>/<seq>.npy (F, 322),
    texts/semantic_labels/<subset>/<seq>.txt, keypoints/<subset>/<seq>.npy (F, 133, 3)."""
    root = Path(root)
    truth = {}
    for subset, seq, num_frames in (("idea400", "Dancing_clip_1", 45), ("kungfu", "k_02", 30)):
        motion = np.zeros((num_frames, 322))
        motion[:, :66] = smooth_pose(num_frames, 22, 30.0, num_frames).reshape(-1, 66)
        motion[:, 309:312] = np.stack([np.zeros(num_frames), np.full(num_frames, 0.9),
                                       np.linspace(0, 1, num_frames)], -1)
        motion[:, 312:] = np.linspace(-1, 1, 10)
        for folder, data in (("motion_data/smplx_322", motion),):
            path = root / folder / subset / f"{seq}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, data)
        text_path = root / "texts/semantic_labels" / subset / f"{seq}.txt"
        text_path.parent.mkdir(parents=True, exist_ok=True)
        caption = f"a person performs {seq.split('_')[0].lower()} moves"
        text_path.write_text(caption)
        keypoints = None
        if with_keypoints:
            rng = np.random.default_rng(num_frames)
            keypoints = np.concatenate([rng.uniform(0, 1000, (num_frames, 133, 2)),
                                        rng.uniform(0, 1, (num_frames, 133, 1))], -1)
            path = root / "keypoints" / subset / f"{seq}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, keypoints)
        truth[f"{subset}/{seq}"] = dict(motion=motion, caption=caption, keypoints=keypoints)
    return truth


def write_3dpw(root) -> dict:
    """3DPW layout: sequenceFiles/<split>/<seq>.pkl with two actors and a moving camera."""
    from scipy.spatial.transform import Rotation

    root = Path(root)
    path = root / "sequenceFiles" / "train" / "courtyard_walk_00.pkl"
    path.parent.mkdir(parents=True, exist_ok=True)
    num_frames = 30
    t = np.arange(num_frames) / 30.0
    camera = np.tile(np.eye(4), (num_frames, 1, 1))
    camera[:, :3, :3] = Rotation.from_euler("y", 0.2 * t[:, None]).as_matrix()
    camera[:, :3, 3] = np.stack([0.1 * t, np.zeros(num_frames), 4 + 0.2 * t], -1)
    poses2d = np.tile(np.arange(18, dtype=np.float64)[None, None], (num_frames, 3, 1))
    poses2d[:, 2] = 0.9
    data = {
        "sequence": "courtyard_walk_00", "genders": ["m", "f"],
        "poses": [smooth_pose(num_frames, 24, 30.0, a).reshape(-1, 72) for a in range(2)],
        "trans": [np.stack([t + a, np.zeros(num_frames), np.zeros(num_frames)], -1)
                  for a in range(2)],
        "betas": [np.full(10, 0.1 * a) for a in range(2)],
        "cam_poses": camera, "cam_intrinsics": np.array([[1960.0, 0, 540], [0, 1960, 960],
                                                         [0, 0, 1]]),
        "poses2d": [poses2d, poses2d + 100], "campose_valid": [np.ones(num_frames, bool),
                                                              np.arange(num_frames) < 20],
        "img_frame_ids": np.arange(num_frames)}
    with open(path, "wb") as handle:
        pickle.dump(data, handle, protocol=2)
    return data


def write_beat2(root, audio_seconds: float = 2.0) -> dict:
    """BEAT2 layout: smplxflame_30/<id>.npz, wave16k/<id>.wav, train_test_split.csv."""
    import soundfile

    root = Path(root)
    (root / "smplxflame_30").mkdir(parents=True, exist_ok=True)
    (root / "wave16k").mkdir(parents=True, exist_ok=True)
    truth = {}
    for index, (vid, split) in enumerate((("2_scott_0_1_1", "train"),
                                          ("2_scott_0_2_2", "test"))):
        num_frames = 75
        poses = np.zeros((num_frames, 165))
        poses[:, :66] = smooth_pose(num_frames, 22, 30.0, index).reshape(-1, 66)
        trans = np.tile([0.0, 0.9, 0.0], (num_frames, 1))
        np.savez(root / "smplxflame_30" / f"{vid}.npz", poses=poses, trans=trans,
                 betas=np.linspace(0, 1, 300), expressions=np.zeros((num_frames, 100)),
                 gender=np.asarray("male"), mocap_frame_rate=np.asarray(30))
        rate = 16000
        tone = 0.5 * np.sin(2 * np.pi * 220 * np.arange(int(audio_seconds * rate)) / rate)
        soundfile.write(str(root / "wave16k" / f"{vid}.wav"), tone.astype(np.float32), rate)
        truth[vid] = dict(poses=poses, trans=trans, split=split)
    (root / "train_test_split.csv").write_text(
        "id,type\n" + "".join(f"{v},{t['split']}\n" for v, t in truth.items()))
    return truth


def write_h36m(root) -> dict:
    """NeuralAnnot layout: annotations/Human36M_subject1_{SMPL_NeuralAnnot,camera}.json, 50 fps."""
    root = Path(root) / "annotations"
    root.mkdir(parents=True, exist_ok=True)
    num_frames = 51                                          # 1 s at 50 fps
    pose = smooth_pose(num_frames, 24, 50.0, 5).reshape(-1, 72)
    from scipy.spatial.transform import Rotation
    pose[:, :3] = (Rotation.from_euler("x", 90, degrees=True) *          # upright in z-up
                   Rotation.from_rotvec(pose[:, :3])).as_rotvec()
    t = np.arange(num_frames) / 50.0
    trans = np.stack([t, np.zeros(num_frames), 0.9 + np.zeros(num_frames)], -1)   # z-up
    fits = {"2": {"1": {str(i): {"pose": pose[i].tolist(), "trans": trans[i].tolist(),
                                 "shape": [0.5] + [0.0] * 9} for i in range(num_frames)}}}
    cameras = {"1": {"R": [[1.0, 0, 0], [0, 0, -1], [0, 1, 0]], "t": [0.0, 900.0, 5000.0],
                     "f": [1145.0, 1144.0], "c": [512.5, 515.4]},
               "2": {"R": [[-1.0, 0, 0], [0, 0, -1], [0, -1, 0]], "t": [0.0, 900.0, 5000.0],
                     "f": [1150.0, 1149.0], "c": [508.8, 508.0]}}
    (root / "Human36M_subject1_SMPL_NeuralAnnot.json").write_text(json.dumps(fits))
    (root / "Human36M_subject1_camera.json").write_text(json.dumps(cameras))
    return dict(pose=pose, trans=trans, cameras=cameras)


def write_bedlam(root) -> dict:
    """BEDLAM label npz: two people in one sequence, rows in shuffled order, 30 fps."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(9)
    num_frames, rows = 20, []
    for person in ("rp_eric", "rp_anna"):
        for frame in range(num_frames):
            rows.append((person, frame))
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    n = len(rows)
    frame = np.array([r[1] for r in rows])
    person_id = np.array([0 if r[0] == "rp_eric" else 1 for r in rows])
    pose_world = np.zeros((n, 165))
    pose_world[:, 3:66] = 0.01 * frame[:, None] + 0.1 * person_id[:, None]
    pose_cam = pose_world.copy()
    pose_cam[:, :3] = np.stack([0.02 * frame, np.zeros(n), np.zeros(n)], -1)
    cam_ext = np.tile(np.eye(4), (n, 1, 1))
    cam_ext[:, :3, 3] = np.stack([0.1 * frame, np.zeros(n), np.full(n, 5.0)], -1)
    data = dict(
        imgname=np.array([f"scene_a/png/seq_000007/seq_000007_{f:04d}.png" for f in frame]),
        sub=np.array([r[0] for r in rows]), center=np.stack([640 + frame, 360 + 0 * frame], -1),
        scale=np.full(n, 1.5), pose_cam=pose_cam, pose_world=pose_world,
        shape=np.tile(np.linspace(0, 1, 11), (n, 1)),
        trans_cam=np.stack([np.zeros(n), 0.01 * frame, np.zeros(n)], -1),
        trans_world=np.stack([0.05 * frame + person_id, np.zeros(n), np.zeros(n)], -1),
        cam_int=np.tile([[1000.0, 0, 640], [0, 1000, 360], [0, 0, 1]], (n, 1, 1)),
        cam_ext=cam_ext, gtkps=np.zeros((n, 127, 3)))
    np.savez(root / "scene_a_30fps.npz", **data)
    return data
