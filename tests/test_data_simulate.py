"""Per-sample simulation: shapes and masks, closed-form projection, camera distance, GV frame,
camera-frame params, and the procedural shard CLI feeding it."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax.data import schema, shards, simulate
from genmo_jax.data.procedural import dance, records, world
from genmo_jax.data.procedural import skeleton as sk
from genmo_jax.data.procedural.__main__ import main as procedural_main

SKELETON = sk.RestSkeleton.smpl_like()


def _record(seed=0, **extra):
    clip = world.generate_clip(np.random.default_rng(seed), SKELETON, dance_prob=0.0)
    return records.clip_to_record(clip, f"clip{seed}") if not extra else schema.make_record(
        source="procedural", name=f"clip{seed}", body_pose=clip["body_pose"],
        global_orient=clip["global_orient"], transl=clip["transl"], betas=np.zeros(10),
        joints_w=clip["joints_w"], **extra)


def test_sample_shapes_dtypes_and_determinism():
    record = _record()
    a = simulate.make_training_sample(record, np.random.default_rng(5))
    b = simulate.make_training_sample(record, np.random.default_rng(5))
    expected = {"body_pose": (120, 63), "betas": (120, 10), "transl_c": (120, 3),
                "R_c2gv": (120, 3, 3), "cam_angvel": (120, 6), "kp2d": (120, 17, 3),
                "obs": (120, 17, 3), "bbox_xys": (120, 3), "audio": (72000,),
                "music_feat": (120, 35), "img_feat": (120, 1024), "caption_window": (4, 2)}
    for key, shape in expected.items():
        assert a[key].shape == shape, key
    for key, value in a.items():
        assert value.dtype in (np.float32, np.int32, np.bool_), key
        np.testing.assert_array_equal(value, b[key], err_msg=key)
        if value.dtype == np.float32:
            assert np.all(np.isfinite(value)), key
    # a procedural clip has text: the camera condition is masked (mask_cam_prob = 1)
    assert a["has_text"] and not a["has_cam_mask"].any()
    assert not a["has_img_mask"].any() and not a["has_music_mask"].any()
    # the obs of frames without 2D are all zero
    assert np.all(a["obs"][~a["has_2d_mask"]] == 0)


def test_projection_matches_closed_form_pinhole_with_a_hand_made_camera():
    clip = world.generate_clip(np.random.default_rng(1), SKELETON, dance_prob=0.0)
    num = clip["transl"].shape[0]
    focal, cx, cy = 1200.0, 480.0, 520.0
    K = np.tile(np.array([[focal, 0, cx], [0, focal, cy], [0, 0, 1.0]]), (num, 1, 1))
    rotation = Rotation.from_euler("y", 0.4).as_matrix() @ np.diag([-1.0, -1.0, 1.0])
    centre = clip["joints_w"][0, 0] + np.array([1.0, 0.3, -4.0])
    R = np.tile(rotation, (num, 1, 1))
    t = np.tile(-rotation @ centre, (num, 1))
    record = _record(1, K=K, R_w2c=R, t_w2c=t, img_wh=np.array([1000, 1000]))
    config = dict(speed_augmentation=False, noise=False)
    sample = simulate.make_training_sample(record, np.random.default_rng(0), config)
    # no random yaw with a dataset camera: the sample's world joints are the record's (cropped)
    assert np.abs(sample["joints_w"][:, 0, 1][:, None] - record["joints_w"][:, 0, 1][None]).min(
        axis=1).max() < 0.02
    joints = sample["joints_w"].astype(np.float64)
    cam = joints @ rotation.T + t[0]
    pixels = np.stack([focal * cam[..., 0] / cam[..., 2] + cx,
                       focal * cam[..., 1] / cam[..., 2] + cy], -1)
    # COCO 5..16 are SMPL joints 16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8
    smpl_ids = [16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8]
    visible = sample["kp2d"][:, 5:, 2] > 0
    assert visible.mean() > 0.9
    np.testing.assert_allclose(sample["kp2d"][:, 5:, :2][visible],
                               pixels[:, smpl_ids][visible], atol=2e-3)
    # camera-frame params: the root joint seen by the camera is R root_w + t
    root_offset = sample["joints_w"][:, 0] - sample["transl_w"]
    np.testing.assert_allclose(sample["transl_c"] + root_offset,
                               sample["joints_w"][:, 0] @ rotation.T + t[0], atol=1e-4)
    orient_c = Rotation.from_rotvec(sample["global_orient_c"]).as_matrix()
    orient_w = Rotation.from_rotvec(sample["global_orient_w"]).as_matrix()
    np.testing.assert_allclose(orient_c, rotation @ orient_w, atol=1e-5)
    assert sample["camera_type"] == -1
    np.testing.assert_allclose(sample["cam_angvel"], np.tile([1, 0, 0, 0, 1, 0], (120, 1)),
                               atol=1e-6)


def test_camera_never_closer_than_half_a_metre_and_body_in_view():
    record = _record(2)
    kinds = set()
    for seed in range(40):
        s = simulate.make_training_sample(record, np.random.default_rng(seed))
        kinds.add(int(s["camera_type"]))
        depth = np.einsum("lij,lkj->lki", s["R_w2c"], s["joints_w"])[..., 2] + s["t_w2c"][:, None, 2]
        assert depth[s["valid"]].min() >= 0.5
        root = np.einsum("lij,lj->li", s["R_w2c"], s["joints_w"][:, 0]) + s["t_w2c"]
        assert np.all(np.abs(root[:, :2] / root[:, 2:]) <= 500 / simulate.FOCAL_TOLERANCE + 1e-5)
    assert len(kinds) >= 4     # several trajectory types were drawn


def test_gravity_view_and_angular_velocity_of_simulated_cameras():
    sample = simulate.make_training_sample(_record(3), np.random.default_rng(1))
    R, gv = sample["R_w2c"].astype(np.float64), sample["R_c2gv"].astype(np.float64)
    np.testing.assert_allclose(gv @ np.swapaxes(gv, -1, -2), np.tile(np.eye(3), (120, 1, 1)),
                               atol=1e-5)
    # GV y axis = world up seen from the camera; the GV z axis is horizontal
    up_gv = np.einsum("lij,lj->li", gv @ R, np.tile([0.0, 1.0, 0.0], (120, 1)))
    np.testing.assert_allclose(up_gv, np.tile([0.0, 1.0, 0.0], (120, 1)), atol=1e-5)
    np.testing.assert_allclose(simulate.r_c2gv(np.diag([-1.0, -1.0, 1.0])[None])[0],
                               np.diag([-1.0, -1.0, 1.0]), atol=1e-12)
    relative = R[1:] @ np.swapaxes(R[:-1], -1, -2)
    np.testing.assert_allclose(sample["cam_angvel"][:-1], relative[:, :2].reshape(-1, 6),
                               atol=1e-5)


def test_short_clip_is_padded_with_a_valid_mask_and_caption_windows_follow_the_crop():
    record = _record(4)
    short = {k: (v[:50] if k in ("body_pose", "global_orient", "transl", "joints_w",
                                 "mask_world") else v) for k, v in record.items()}
    short["caption_window"] = np.array([[0, 20], [20, 50]], np.int32)
    short["caption_text"] = record["caption_text"][:2]
    sample = simulate.make_training_sample(short, np.random.default_rng(0),
                                           dict(speed_augmentation=False))
    assert int(sample["length"]) == 50 and sample["valid"].sum() == 50
    assert not sample["has_2d_mask"][50:].any()
    np.testing.assert_array_equal(sample["body_pose"][50:], np.repeat(sample["body_pose"][49:50],
                                                                      70, 0))
    np.testing.assert_array_equal(sample["caption_id"], [0, 1, -1, -1])
    np.testing.assert_array_equal(sample["caption_window"][:2], [[0, 20], [20, 50]])


def test_visibility_propagates_down_the_coco_tree():
    visible = np.ones((1, 17), bool)
    visible[0, 5] = False                        # left shoulder hidden
    out = simulate.propagate_coco(visible)[0]
    assert not out[7] and not out[9]             # left elbow, wrist follow
    assert out[0] and out[6]                     # the nose keeps its other parent


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="unknown simulation config field"):
        simulate.SimulationConfig.from_config({"lenght": 120})
    with pytest.raises(ValueError, match="'length'"):
        simulate.SimulationConfig.from_config({"length": 1})
    with pytest.raises(ValueError, match="'speed_range'"):
        simulate.SimulationConfig.from_config({"speed_range": (1.5, 0.5)})
    with pytest.raises(ValueError, match="'camera'"):
        simulate.SimulationConfig.from_config({"camera": "dolly"})


def test_cli_writes_shards_that_simulate(tmp_path):
    out = tmp_path / "proc"
    assert procedural_main(["--clips", "3", "--out", str(out), "--seed", "2",
                            "--dance-prob", "0", "--body", "smpl_like"]) == 0
    source = shards.ShardSource(out)
    assert len(source) == 3
    record = source[1]
    expected = records.generate_record(SKELETON, 2, 1, dance_prob=0.0)
    np.testing.assert_array_equal(record["body_pose"], expected["body_pose"])
    sample = simulate.make_training_sample(record, np.random.default_rng(0))
    assert sample["kp2d"].shape == (120, 17, 3)
    # re-running resumes: nothing is written twice
    assert procedural_main(["--clips", "4", "--out", str(out), "--seed", "2",
                            "--dance-prob", "0", "--body", "smpl_like"]) == 0
    assert len(shards.ShardSource(out)) == 4


def test_dance_record_runs_the_music_feature_path():
    clip = dance.generate_dance_clip(np.random.default_rng(0), SKELETON)
    calls = []

    def energy_features(waveform, rate):      # stands in for librosa: 512-sample frame energy
        calls.append(rate)
        frames = np.square(waveform[: len(waveform) // 512 * 512]).reshape(-1, 512).sum(-1)
        return np.repeat(frames[:, None], 35, axis=1)

    record = records.clip_to_record(clip, "dance0", music_features=energy_features)
    assert calls == [dance.MUSIC_RATE]
    assert record["music_feat"].shape == (clip["transl"].shape[0], 35)
    sample = simulate.make_training_sample(record, np.random.default_rng(0))
    assert sample["has_music_mask"][sample["valid"]].all() and not sample["has_cam_mask"].any()


def test_2d_only_record_keeps_its_keypoints_and_boxes_them():
    clip = world.generate_clip(np.random.default_rng(6), SKELETON, dance_prob=0.0)
    num = clip["transl"].shape[0]
    rng = np.random.default_rng(0)
    kp2d = np.concatenate([rng.uniform(200, 600, (num, 17, 2)), np.ones((num, 17, 1))], -1)
    kp2d[:, 3, 2] = 0.2                                      # one low-confidence joint
    record = _record(6, kp2d=kp2d, mask_world=np.zeros(num, bool), flag_2d_only=True)
    sample = simulate.make_training_sample(record, np.random.default_rng(1),
                                           dict(speed_augmentation=False, noise=False))
    assert sample["flag_2d_only"] and not sample["has_world_mask"].any()
    assert not sample["kp2d"][:, 3, 2].any()                 # conf <= 0.5 is invisible
    visible = sample["kp2d"][..., 2] > 0
    assert visible[:, [0, 1, 2, 4]].all()
    inside = np.abs(sample["kp2d"][..., :2] - sample["bbox_xys"][:, None, :2]) \
        <= sample["bbox_xys"][:, None, 2:] / 2
    assert inside[visible].all()
    # the pixels are the record's (a crop of them), not a projection
    assert np.isin(sample["kp2d"][:, 0, 0].round(3), kp2d[:, 0, 0].astype(np.float32).round(3)).all()


@pytest.mark.slow
def test_cli_workers_write_the_same_shards(tmp_path):
    args = ["--clips", "6", "--seed", "3", "--dance-prob", "0", "--body", "smpl_like"]
    assert procedural_main(args + ["--out", str(tmp_path / "one")]) == 0
    assert procedural_main(args + ["--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    one, two = shards.ShardSource(tmp_path / "one"), shards.ShardSource(tmp_path / "two")
    for index in range(6):
        for key, value in one[index].items():
            np.testing.assert_array_equal(value, two[index][key], err_msg=key)


def test_sample_agrees_with_the_motion_camera_functions():
    """Independent references: genmo_jax.motion.camera / gravity_view (JAX) on the sample."""
    from genmo_jax.motion import camera, gravity_view

    record = _record(7)
    short = {k: (v[:90] if k in ("body_pose", "global_orient", "transl", "joints_w",
                                 "mask_world") else v) for k, v in record.items()}
    short["caption_window"] = np.array([[0, 90]], np.int32)
    short["caption_text"] = record["caption_text"][:1]
    s = simulate.make_training_sample(short, np.random.default_rng(3))
    length = int(s["length"])
    root_offset = s["joints_w"][:, 0] - s["transl_w"]
    orient_c, transl_c = camera.world_to_camera_params(
        s["global_orient_w"], s["transl_w"], s["R_w2c"], s["t_w2c"], root_offset)
    np.testing.assert_allclose(Rotation.from_rotvec(np.asarray(orient_c)).as_matrix(),
                               Rotation.from_rotvec(s["global_orient_c"]).as_matrix(), atol=1e-5)
    np.testing.assert_allclose(np.asarray(transl_c), s["transl_c"], atol=1e-4)
    np.testing.assert_allclose(np.asarray(gravity_view.gravity_view_rotation(s["R_w2c"])),
                               s["R_c2gv"], atol=1e-5)
    np.testing.assert_allclose(np.asarray(camera.cam_angvel_from_R_w2c(s["R_w2c"], length)),
                               s["cam_angvel"], atol=1e-5)
    has_2d = s["has_2d_mask"]
    np.testing.assert_allclose(np.asarray(camera.bbox_info(s["bbox_xys"], s["K"]))[has_2d],
                               s["f_cliffcam"][has_2d], atol=1e-5)
    obs = np.asarray(camera.normalize_kp2d_to_bbox(s["kp2d"], s["bbox_xys"]))
    visible = s["obs"][..., 2] > 0
    np.testing.assert_allclose(obs[visible], s["obs"][visible], atol=1e-4)
    np.testing.assert_array_equal(obs[..., 2] > 0, visible)


def test_audio_and_music_crops_stay_aligned_with_the_motion():
    clip = world.generate_clip(np.random.default_rng(8), SKELETON, dance_prob=0.0)
    num = clip["transl"].shape[0]
    # each frame's 600 audio samples and its music features hold the frame index
    audio = np.repeat(np.arange(num, dtype=np.float64), 600)
    music = np.repeat(np.arange(num, dtype=np.float64)[:, None], 35, axis=1)
    record = _record(8, audio=audio, music_feat=music)
    s = simulate.make_training_sample(record, np.random.default_rng(2),
                                      dict(speed_augmentation=False))
    start = s["music_feat"][0, 0]
    np.testing.assert_array_equal(s["music_feat"][:, 0], start + np.arange(120))
    np.testing.assert_allclose(s["audio"].reshape(120, 600)[:, 0], start + np.arange(120))
    # the motion comes from the same source frames
    np.testing.assert_allclose(s["transl_w"][:, 1], record["transl"][int(start):int(start) + 120, 1],
                               atol=1e-5)
    assert s["has_music_mask"].all() and s["has_audio_mask"].all() and not s["has_cam_mask"].any()


def test_generation_camera_static_and_front_for_rows_without_a_camera_condition():
    """Captioned rows lose their camera condition: "static" gives them a static camera (GV yaw =
    world yaw), "front" also points it at the body's front in the first frame (GV heading of the
    first frame: facing the camera, i.e. forward = -z_gv); rows with a camera condition keep the
    v11 mix."""
    captioned = _record(4)
    plain = {k: v for k, v in captioned.items() if not k.startswith("caption")}
    for mode in ("static", "front"):
        config = {"generation_camera": mode}
        kinds, plain_kinds = set(), set()
        for seed in range(12):
            s = simulate.make_training_sample(captioned, np.random.default_rng(seed), config)
            kinds.add(int(s["camera_type"]))
            np.testing.assert_allclose(np.ptp(s["R_w2c"], axis=0), 0.0, atol=1e-7)
            assert not s["has_cam_mask"].any()
            forward = (s["R_c2gv"][0] @ Rotation.from_rotvec(s["global_orient_c"][0]).as_matrix()
                       )[:, 2]
            heading = np.degrees(np.arctan2(forward[0], forward[2]))
            if mode == "front":
                assert abs(abs(heading) - 180.0) < 1e-3, heading
            plain_kinds.add(int(simulate.make_training_sample(
                plain, np.random.default_rng(seed), config)["camera_type"]))
        assert kinds == {simulate.CAMERA_TYPES.index("static")}
        assert len(plain_kinds) >= 3
    with pytest.raises(ValueError, match="generation_camera"):
        simulate.SimulationConfig.from_config({"generation_camera": "orbit"})
