"""Converters: official raw layouts (written by genmo_jax.data.fixtures) -> schema shards."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation, Slerp

from genmo_jax.data import convert, fixtures, shards
from genmo_jax.data.converters import common, humanml3d

REST = fixtures.synthetic_rest_joints
A = common.R_ZUP_TO_YUP


def run(dataset, src, out, **options):
    return convert.convert(dataset, str(src), str(out), rest_joints_fn=REST, progress=False,
                           records_per_shard=2, **options)


def by_name(out):
    source = shards.ShardSource(out)
    return {str(r["name"]): r for r in source}


def test_resample_matches_scipy_slerp_and_keeps_exact_frames():
    rng = np.random.default_rng(0)
    rotvec = rng.normal(size=(11, 2, 3))
    transl = rng.normal(size=(11, 3))
    out_rot, out_transl = common.resample(rotvec, transl, src_fps=45.0, dst_fps=30.0)
    assert out_rot.shape == (7, 2, 3)                      # 10/45 s -> frames 0..6 at 30 fps
    times_src = np.arange(11) / 45.0
    times_dst = np.arange(7) / 30.0
    for joint in range(2):
        expected = Slerp(times_src, Rotation.from_rotvec(rotvec[:, joint]))(times_dst)
        got = Rotation.from_rotvec(out_rot[:, joint])
        assert np.max((got * expected.inv()).magnitude()) < 1e-9
    np.testing.assert_allclose(out_transl[:, 0], np.interp(times_dst, times_src, transl[:, 0]))


def test_rotate_world_moves_joints_rigidly():
    rng = np.random.default_rng(1)
    orient, pose, transl = rng.normal(size=(4, 3)), rng.normal(size=(4, 63)) * 0.3, \
        rng.normal(size=(4, 3))
    rest = REST(np.zeros(10))
    joints = common.smpl_joints(rest, orient, pose, transl)
    orient2, transl2 = common.rotate_world(A, orient, transl, rest[0])
    np.testing.assert_allclose(common.smpl_joints(rest, orient2, pose, transl2),
                               joints @ A.T, atol=1e-9)


def test_amass_axes_rate_units_and_resume(tmp_path):
    truth = fixtures.write_amass(tmp_path / "amass")
    counts = run("amass", tmp_path / "amass", tmp_path / "out")
    assert counts == {"written": 2, "skipped": 0, "resumed": 0}   # shape.npz is not a clip
    records = by_name(tmp_path / "out")
    for name, seq in truth.items():
        record = records[name]
        step = int(seq["fps"] / 30)
        source_frames = np.arange(0, seq["poses"].shape[0], step)
        assert record["body_pose"].shape == (len(source_frames), 63)   # 30 fps
        assert str(record["gender"]) == seq["gender"]
        np.testing.assert_allclose(record["betas"], seq["betas"][:10], rtol=1e-6)
        # Integer-ratio rates: output frames are exactly every step-th source frame.
        np.testing.assert_allclose(record["body_pose"],
                                   seq["poses"][source_frames, 1:].reshape(-1, 63), atol=1e-5)
        # Pelvis in y-up metres: (x, y, z)_yup = (x, z, -y)_zup of the source pelvis.
        pelvis_zup = seq["trans"][source_frames] + REST(seq["betas"][:10])[0]
        np.testing.assert_allclose(record["joints_w"][:, 0], pelvis_zup @ A.T, atol=1e-5)
        assert abs(record["joints_w"][0, 0, 1] - 0.9 - REST(seq["betas"][:10])[0, 2]) < 1e-4
        # Upright in the y-up world: the head is above the pelvis, the ankles below it.
        joints = record["joints_w"]
        assert np.all(joints[:, 15, 1] > joints[:, 0, 1] + 0.3)
        assert np.all(joints[:, [7, 8], 1] < joints[:, [0], 1] - 0.5)
        # Walking along +y (z-up) is walking along -z (y-up), 1 m/s = 1/30 m per frame.
        np.testing.assert_allclose(np.diff(record["transl"][:, 2]), -1 / 30, atol=1e-5)
        # joints_w is the FK of the stored world params.
        np.testing.assert_allclose(
            record["joints_w"], common.smpl_joints(
                REST(record["betas"]), record["global_orient"].astype(np.float64),
                record["body_pose"].astype(np.float64), record["transl"].astype(np.float64)),
            atol=1e-4)
    counts = run("amass", tmp_path / "amass", tmp_path / "out")
    assert counts == {"written": 0, "skipped": 0, "resumed": 2}
    assert len(shards.ShardSource(tmp_path / "out")) == 2


def test_humanml3d_crops_and_caption_windows(tmp_path):
    amass_truth = fixtures.write_amass(tmp_path / "amass")
    truth = fixtures.write_humanml3d(tmp_path / "hml", tmp_path / "amass")
    run("humanml3d", tmp_path / "hml", tmp_path / "out", amass=str(tmp_path / "amass"))
    records = by_name(tmp_path / "out")
    assert set(records) == set(truth) == {"000000", "000001"}
    for clip, item in truth.items():
        record = records[clip]
        amass_name = item["source"].split("pose_data/")[1][:-4]
        seq = amass_truth[amass_name]
        # HumanML3D frames are at 20 fps: [start, end) * 1/20 s, our clip at 30 fps.
        start_s, end_s = item["start"] / 20, item["end"] / 20
        length = record["transl"].shape[0]
        assert length == int(round(end_s * 30)) - int(round(start_s * 30))
        first = int(round(start_s * seq["fps"]))
        pelvis = (seq["trans"][first] + REST(seq["betas"][:10])[0]) @ A.T
        np.testing.assert_allclose(record["joints_w"][0, 0], pelvis, atol=1e-5)
        texts = [str(t) for t in record["caption_text"]]
        assert texts == [c[0] for c in item["captions"]]
        read = humanml3d.read_captions(tmp_path / "hml" / "texts" / f"{clip}.txt")
        assert [(c.text, c.start_s, c.end_s) for c in read] == [tuple(c) for c in item["captions"]]
        assert [c.tokens for c in read] == [tuple(w + "/X" for w in c[0].split()) for c in item["captions"]]
        for (text, s, e), window in zip(item["captions"], record["caption_window"]):
            expected = (0, length) if s == e == 0 else (round(s * 30), round(e * 30))
            assert tuple(window) == expected


def test_missing_source_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        run("amass", tmp_path / "nowhere", tmp_path / "out")
    with pytest.raises(ValueError, match="--dataset"):
        convert.converter_module("imagenet")
    (tmp_path / "hml").mkdir()
    with pytest.raises(FileNotFoundError, match="index.csv"):
        run("humanml3d", tmp_path / "hml", tmp_path / "out")


def test_aistpp_units_cameras_and_views(tmp_path):
    truth = fixtures.write_aistpp(tmp_path / "aist")
    counts = run("aistpp", tmp_path / "aist", tmp_path / "out")
    assert counts["written"] == 2 * 9                        # third sequence is in ignore_list
    records = by_name(tmp_path / "out")
    for seq, item in list(truth.items())[:2]:
        scale = item["smpl_scaling"][0]
        for camera in item["cameras"]:
            record = records[seq.replace("cAll", camera["name"])]
            num_src = item["smpl_poses"].shape[0]
            assert record["transl"].shape[0] == (num_src - 1) // 2 + 1   # 60 -> 30 fps
            np.testing.assert_allclose(record["transl"], item["smpl_trans"][::2] / scale,
                                       atol=1e-5)                        # cm / scaling
            np.testing.assert_allclose(record["body_pose"],
                                       item["smpl_poses"][::2, 3:66], atol=1e-5)
            np.testing.assert_allclose(record["K"][0], camera["matrix"])
            assert tuple(record["img_wh"]) == (1920, 1080)
            assert record["flag_invalid_contact"] and not record["flag_2d_only"]
            assert "music_feat" not in record                            # no wav written
            # The fixture cameras look at the world origin: it projects to the image centre,
            # and the camera centre sits 1.5 m (in cm / scaling units) above the floor.
            origin_c = record["t_w2c"][0]
            pixel = record["K"][0] @ origin_c
            np.testing.assert_allclose(pixel[:2] / pixel[2], [960, 540], atol=1e-3)
            centre = -record["R_w2c"][0].T @ record["t_w2c"][0]
            np.testing.assert_allclose(centre[1], 150 / scale, rtol=1e-5)


def test_motionx_two_d_only_and_text(tmp_path):
    truth = fixtures.write_motionx(tmp_path / "mx")
    run("motionx", tmp_path / "mx", tmp_path / "out")
    records = by_name(tmp_path / "out")
    assert set(records) == set(truth)
    for name, item in truth.items():
        record = records[name]
        assert record["flag_2d_only"] and not record["mask_world"].any()
        np.testing.assert_allclose(record["kp2d"], item["keypoints"][:, :17], rtol=1e-5)
        assert [str(t) for t in record["caption_text"]] == [item["caption"]]
        np.testing.assert_allclose(record["transl"], item["motion"][:, 309:312], atol=1e-6)
        np.testing.assert_allclose(record["betas"], item["motion"][0, 312:], rtol=1e-6)
    truth = fixtures.write_motionx(tmp_path / "mx3d", with_keypoints=False)
    run("motionx", tmp_path / "mx3d", tmp_path / "out3d")
    for record in by_name(tmp_path / "out3d").values():
        assert record["mask_world"].all() and "kp2d" not in record


def write_tiny_smpl(path):
    """A minimal SMPL-layout model whose 24 vertices are the joints (J_regressor = identity),
    and whose first shape direction moves every vertex by +1 cm in y."""
    rest = fixtures.synthetic_rest_joints(np.zeros(10))
    shapedirs = np.zeros((24, 3, 10))
    shapedirs[:, 1, 0] = 0.01
    kintree = np.stack([np.where(common.SMPL_PARENTS < 0, 2**32 - 1, common.SMPL_PARENTS),
                        np.arange(24)]).astype(np.int64)
    np.savez(path, v_template=rest, shapedirs=shapedirs, posedirs=np.zeros((24, 3, 207)),
             J_regressor=np.eye(24), weights=np.eye(24), kintree_table=kintree,
             f=np.zeros((1, 3), np.int64))
    return rest


def test_default_rest_joints_reads_an_smpl_layout_file(tmp_path):
    rest = write_tiny_smpl(tmp_path / "SMPL_NEUTRAL.npz")
    rest_joints = common.default_rest_joints(str(tmp_path / "SMPL_NEUTRAL.npz"))
    betas = np.zeros(10)
    betas[0] = 2.0
    np.testing.assert_allclose(rest_joints(betas, "neutral"), rest + [0, 0.02, 0], atol=1e-6)


def test_3dpw_camera_frame_params_and_openpose_reorder(tmp_path):
    data = fixtures.write_3dpw(tmp_path / "3dpw")
    counts = run("3dpw", tmp_path / "3dpw", tmp_path / "out")
    assert counts["written"] == 2
    records = by_name(tmp_path / "out")
    for actor in range(2):
        record = records[f"train/courtyard_walk_00_{actor}"]
        assert record["flag_spv_incam_only"] and record["flag_invalid_contact"]
        assert str(record["gender"]) == ("male", "female")[actor]
        np.testing.assert_array_equal(record["mask_world"], data["campose_valid"][actor])
        # Camera-frame pelvis from the camera params equals the camera view of the world pelvis.
        rot, t = data["cam_poses"][:, :3, :3], data["cam_poses"][:, :3, 3]
        pelvis_c = np.einsum("lij,lj->li", rot, record["joints_w"][:, 0]) + t
        rest = REST(record["betas"])[0]
        np.testing.assert_allclose(record["transl_c"] + rest, pelvis_c, atol=1e-5)
        orient_c = Rotation.from_matrix(rot) * Rotation.from_rotvec(
            data["poses"][actor][:, :3])
        got = Rotation.from_rotvec(record["global_orient_c"].astype(np.float64))
        assert np.max((got * orient_c.inv()).magnitude()) < 1e-5
        # OpenPose-18 x coordinate = its index (+100 for actor 1): COCO shoulders are 5 (L), 2 (R).
        np.testing.assert_allclose(record["kp2d"][0, [0, 5, 6, 11, 16], 0],
                                   np.array([0, 5, 2, 11, 10]) + 100 * actor)
        assert tuple(record["img_wh"]) == (1080, 1920)


def test_beat2_audio_is_18khz_and_aligned(tmp_path):
    pytest.importorskip("soundfile")
    pytest.importorskip("librosa")
    truth = fixtures.write_beat2(tmp_path / "beat2", audio_seconds=2.0)
    run("beat2", tmp_path / "beat2", tmp_path / "out", split="train")
    records = by_name(tmp_path / "out")
    assert set(records) == {"2_scott_0_1_1"}
    record = records["2_scott_0_1_1"]
    assert record["transl"].shape[0] == 60          # 2 s of audio < 75 motion frames: cut to 60
    assert record["audio"].shape == (60 * 600,)
    # A 220 Hz tone resampled to 18 kHz: 220 periods per second.
    crossings = np.sum(np.diff(np.sign(record["audio"][:18000])) > 0)
    assert abs(crossings - 220) <= 2
    np.testing.assert_allclose(record["body_pose"],
                               truth["2_scott_0_1_1"]["poses"][:60, 3:66], atol=1e-6)


def test_h36m_neuralannot_rate_axes_and_cameras(tmp_path):
    truth = fixtures.write_h36m(tmp_path / "h36m")
    counts = run("h36m", tmp_path / "h36m", tmp_path / "out")
    assert counts["written"] == 2                            # one action x two cameras
    records = by_name(tmp_path / "out")
    record = records["S1_act02_sub01_cam01"]
    assert record["transl"].shape[0] == 31                   # 1 s: 50 fps -> 30 fps
    betas = np.array([0.5] + [0.0] * 9)
    source_frames = np.arange(31) * 50 / 30
    pelvis_zup = np.stack([np.interp(source_frames, np.arange(51), truth["trans"][:, k])
                           for k in range(3)], -1) + REST(betas)[0]
    np.testing.assert_allclose(record["joints_w"][:, 0], pelvis_zup @ A.T, atol=1e-5)
    assert np.all(record["joints_w"][:, 15, 1] > record["joints_w"][:, 0, 1] + 0.3)   # upright
    # The camera sees the same point whether the world is z-up or y-up.
    camera = truth["cameras"]["1"]
    seen_zup = np.asarray(camera["R"]) @ pelvis_zup[0] + np.asarray(camera["t"]) / 1000
    seen_yup = record["R_w2c"][0] @ record["joints_w"][0, 0] + record["t_w2c"][0]
    np.testing.assert_allclose(seen_yup, seen_zup, atol=1e-5)
    np.testing.assert_allclose(record["K"][0], [[1145, 0, 512.5], [0, 1144, 515.4], [0, 0, 1]])


def test_bedlam_groups_sorts_and_uses_the_bedlam_camera_convention(tmp_path):
    data = fixtures.write_bedlam(tmp_path / "bedlam")
    counts = run("bedlam", tmp_path / "bedlam", tmp_path / "out")
    assert counts["written"] == 2
    records = by_name(tmp_path / "out")
    for person_id, person in enumerate(("rp_eric", "rp_anna")):
        record = records[f"scene_a_30fps/seq_000007/{person}"]
        frames = np.arange(20)
        np.testing.assert_allclose(record["transl"][:, 0], 0.05 * frames + person_id, atol=1e-6)
        np.testing.assert_allclose(record["body_pose"][:, 0],
                                   0.01 * frames + 0.1 * person_id, atol=1e-6)
        # transl_c = trans_cam + cam_ext translation ("BEDLAM convention").
        np.testing.assert_allclose(record["transl_c"], np.stack(
            [0.1 * frames, 0.01 * frames, np.full(20, 5.0)], -1), atol=1e-6)
        np.testing.assert_allclose(record["global_orient_c"][:, 0], 0.02 * frames, atol=1e-6)
        np.testing.assert_allclose(record["bbox_xys"][:, 2], 300.0)
        np.testing.assert_allclose(record["bbox_xys"][:, 0], 640 + frames)
        assert tuple(record["img_wh"]) == (1280, 720)


def test_cli_with_a_body_file_and_resume_after_a_crash(tmp_path, monkeypatch, capsys):
    from genmo_jax.data.converters import amass

    write_tiny_smpl(tmp_path / "SMPL_NEUTRAL.npz")
    fixtures.write_amass(tmp_path / "amass")
    original = amass.convert_item
    calls = []

    def crash_on_second(name, path, **kwargs):
        calls.append(name)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed mid-conversion")
        return original(name, path, **kwargs)

    monkeypatch.setattr(amass, "convert_item", crash_on_second)
    argv = ["--dataset", "amass", "--src", str(tmp_path / "amass"), "--out",
            str(tmp_path / "out"), "--body", str(tmp_path / "SMPL_NEUTRAL.npz"),
            "--records-per-shard", "1"]
    with pytest.raises(KeyboardInterrupt):
        convert.main(argv)
    assert len(shards.ShardSource(tmp_path / "out")) == 1     # the finished shard survives
    monkeypatch.setattr(amass, "convert_item", original)
    assert convert.main(argv) == 0
    assert "1 written, 1 already done" in capsys.readouterr().out
    records = by_name(tmp_path / "out")
    assert len(records) == 2
    # joints_w used the body file: betas[0] lifts every rest joint by 1 cm per unit.
    for record in records.values():
        lift = 0.01 * record["betas"][0]
        rest = fixtures.synthetic_rest_joints(np.zeros(10)) + [0, lift, 0]
        np.testing.assert_allclose(record["joints_w"], common.smpl_joints(
            rest, record["global_orient"].astype(np.float64),
            record["body_pose"].astype(np.float64), record["transl"].astype(np.float64)),
            atol=1e-4)


def test_amass_with_the_built_in_open_body(tmp_path):
    try:
        rest_joints = common.default_rest_joints()
    except (ImportError, FileNotFoundError) as error:
        pytest.skip(f"built-in open body unavailable: {error}")
    fixtures.write_amass(tmp_path / "amass")
    convert.convert("amass", str(tmp_path / "amass"), str(tmp_path / "out"), rest_joints,
                    progress=False)
    for record in shards.ShardSource(tmp_path / "out"):
        joints = record["joints_w"]
        # A human-sized body: pelvis to ankles ~0.7-1.0 m, head above the pelvis (y-up).
        leg = np.linalg.norm(joints[:, 0] - joints[:, 7], axis=-1)
        assert 0.6 < leg.mean() < 1.1
        assert np.all(joints[:, 15, 1] > joints[:, 0, 1])


def test_humanml3d_trims_like_the_notebook():
    from genmo_jax.data.converters import humanml3d

    # MPI_HDM05 at 120 fps: 3 s trimmed at 20 fps (60 frames), step 6 -> frame 60 + 10 = 70.
    start, end = humanml3d.source_window_seconds(10, 30, "MPI_HDM05/bk/HDM_bk_01-01_01_120_poses",
                                                 120.0)
    assert (start, end) == (3.5, 4.5)
    assert humanml3d.source_window_seconds(10, 30, "KIT/3/walk_poses", 100.0) == (0.5, 1.5)


def test_amass_files_with_an_object_gender_field(tmp_path):
    # Some AMASS releases pickle `gender` as an object array; the converter still reads them.
    truth = fixtures.write_amass(tmp_path / "amass")
    name = "CMU/01/01_01_stageii"
    path = tmp_path / "amass" / f"{name}.npz"
    with np.load(path) as data:
        fields = {k: data[k] for k in data.files}
    fields["gender"] = np.asarray(["male"], dtype=object)
    np.savez(path, **fields)
    run("amass", tmp_path / "amass", tmp_path / "out")
    record = by_name(tmp_path / "out")[name]
    assert str(record["gender"]) == "male"
    assert record["transl"].shape[0] == (truth[name]["poses"].shape[0] - 1) // 2 + 1


def test_motionx_z_up_subsets_are_rotated(tmp_path):
    truth = fixtures.write_motionx(tmp_path / "mx", with_keypoints=False)
    run("motionx", tmp_path / "mx", tmp_path / "y", up="y")
    run("motionx", tmp_path / "mx", tmp_path / "z", up="z")
    y_up, z_up = by_name(tmp_path / "y"), by_name(tmp_path / "z")
    for name in truth:
        np.testing.assert_allclose(z_up[name]["joints_w"], y_up[name]["joints_w"] @ A.T,
                                   atol=1e-5)
