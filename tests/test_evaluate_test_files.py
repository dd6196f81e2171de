"""Readers of the official EMDB / RICH / 3DPW test files on fixture folders: conventions, flip
inputs, world alignment and one-line errors naming file, sequence and field."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax import torch_pickle
from genmo_jax.body import smpl
from genmo_jax.body.skeletons import COCO17_FLIP_PERM
from genmo_jax.evaluate import fixtures, test_files


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    return fixtures.write_all(str(tmp_path_factory.mktemp("test_files")))


def test_emdb_fields_camera_and_flip(folders):
    seqs, missing = test_files.read_benchmark("emdb2", folders["emdb"], flip=True)
    assert [s.name for s in seqs] == ["P0_09_outdoor_walk"] and len(missing) == 24
    seq = seqs[0]
    frames = seq.num_frames
    assert seq.kp2d.shape == (frames, 17, 3) and seq.f_imgseq.shape == (frames, 1024) and seq.mask.dtype == bool
    assert seq.gt_params["body_pose"].shape == (frames, 69) and seq.gt_model == "smpl"
    # estimate_K of the small video: focal max(W, H) = 960, principal point at the centre.
    np.testing.assert_allclose(seq.K, [[960, 0, 360], [0, 960, 480], [0, 0, 1]])
    # The SLAM trajectory stores camera-to-world rotations; the fixture's equal the GT camera.
    np.testing.assert_allclose(seq.R_w2c, seq.gt_T_w2c[:, :3, :3], atol=1e-6)
    flipped = seq.flip
    np.testing.assert_allclose(flipped["kp2d"][:, 5, 0], 720 - 1 - seq.kp2d[:, COCO17_FLIP_PERM[5], 0])
    np.testing.assert_allclose(flipped["kp2d"][:, 5, 1:], seq.kp2d[:, 6, 1:])
    np.testing.assert_allclose(flipped["R_w2c"], np.diag([1.0, -1.0, -1.0]) @ seq.R_w2c, atol=1e-6)
    assert flipped["f_imgseq"].shape == (frames, 1024)
    gt_camera, = test_files.read_benchmark("emdb1", folders["emdb"], camera="gt")[0]
    assert gt_camera.name == "P1_14_outdoor_climb" and gt_camera.image_size == (1440, 1920)


def test_rich_world_is_aligned_to_y_up(folders):
    # The release: R_az2ay = axis_angle_to_matrix([1, 0, 0] * -pi / 2), z-up -> y-up.
    np.testing.assert_allclose(test_files.R_AZ_TO_AY, Rotation.from_rotvec([-np.pi / 2, 0, 0]).as_matrix(), atol=1e-7)
    np.testing.assert_allclose(test_files.R_AZ_TO_AY @ [0, 0, 1.0], [0, 1, 0], atol=1e-7)
    seq = test_files.read_benchmark("rich", folders["rich"])[0][0]
    assert seq.gt_model == "smplx" and seq.mask.all() and seq.R_w2c.shape == (seq.num_frames, 3, 3)
    body = fixtures.default_body()
    p = seq.gt_params
    joints = np.asarray(smpl.skeleton_forward(body, p["betas"], p["global_orient"], p["body_pose"], p["transl"]))
    joints_ay = joints @ seq.gt_T_w2eval[:3, :3].T + seq.gt_T_w2eval[:3, 3]
    assert joints_ay[..., 1].min() == pytest.approx(0.0, abs=1e-4)  # the walk's feet touch y = 0 again
    assert np.ptp(joints_ay[:, 0, 1]) < 0.1  # and the pelvis height barely changes: y is up


def test_3dpw_fields(folders):
    seq = test_files.read_benchmark("3dpw", folders["3dpw"], flip=True)[0][0]
    assert seq.mask.sum() == seq.num_frames - 2  # mask_wham
    assert seq.image_size == (1080, 1920) and seq.K[0, 0] == pytest.approx(1960.0)
    np.testing.assert_allclose(seq.flip["bbx_xys"][:, 0], 1080 - 1 - seq.bbx_xys[:, 0], atol=1e-4)


def test_errors_name_file_sequence_and_field(folders, tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        test_files.read_benchmark("emdb1", str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="emdb_vit_v4.pt"):
        test_files.read_benchmark("emdb1", str(tmp_path))
    labels = torch_pickle.load(f"{folders['3dpw']}/test_3dpw_gt_labels.pt")
    vid = next(iter(labels))
    broken = tmp_path / "3dpw"
    import shutil

    shutil.copytree(folders["3dpw"], broken)
    del labels[vid]["mask_wham"]
    torch_pickle.save(labels, broken / "test_3dpw_gt_labels.pt")
    with pytest.raises(ValueError, match=rf"test_3dpw_gt_labels.pt: {vid}: missing field 'mask_wham'"):
        test_files.read_benchmark("3dpw", str(broken))
    shutil.copy(f"{folders['3dpw']}/test_3dpw_gt_labels.pt", broken / "test_3dpw_gt_labels.pt")
    kp2d = torch_pickle.load(broken / "preproc_test_kp2d_v0.pt")
    kp2d[vid] = kp2d[vid][:, :12]
    torch_pickle.save(kp2d, broken / "preproc_test_kp2d_v0.pt")
    with pytest.raises(ValueError, match=r"preproc_test_kp2d_v0.pt: .*shape \(44, 12, 3\), expected \('F', 17, 3\)"):
        test_files.read_benchmark("3dpw", str(broken))
    with pytest.raises(FileNotFoundError, match="3dpw_test_flip"):
        shutil.rmtree(broken / "imgfeats" / "3dpw_test_flip")
        shutil.copy(f"{folders['3dpw']}/preproc_test_kp2d_v0.pt", broken / "preproc_test_kp2d_v0.pt")
        test_files.read_benchmark("3dpw", str(broken), flip=True)
    with pytest.raises(FileNotFoundError, match="RICH resource file not found"):
        test_files.read_benchmark("rich", folders["rich"], rich_resource=str(tmp_path))
    with pytest.raises(ValueError, match="RICH has no flipped"):
        test_files.read_benchmark("rich", folders["rich"], flip=True)


@pytest.mark.ref
def test_release_loader_expressions_work_on_the_fixture_files(folders):
    """torch.load reads every fixture file, and the expressions of the release's loaders
    (gem/datasets/*/…_motion_test.py) work on what it returns: tensors where they call tensor
    methods, numpy arrays where they call torch.from_numpy."""
    torch = pytest.importorskip("torch")
    emdb = folders["emdb"]
    labels = torch.load(f"{emdb}/emdb_vit_v4.pt", weights_only=False)
    label = labels["P0_09_outdoor_walk"]
    assert torch.where(label["mask"])[0].dtype == torch.int64 and label["T_w2c"].shape[-2:] == (4, 4)
    assert set(label["smpl_params"]) == {"body_pose", "betas", "global_orient", "transl"}
    assert label["smpl_params"]["body_pose"].shape[1] == 69 and isinstance(label["gender"], str)
    droid = torch.load(f"{emdb}/emdb_slam_traj.pt", weights_only=False)["P0_09_outdoor_walk"]
    R_c2w = torch.from_numpy(droid["pred_cam_R"]).float()
    T_c2w = torch.eye(4)[None].repeat(len(R_c2w), 1, 1)
    T_c2w[:, :3, :3], T_c2w[:, :3, 3] = R_c2w, torch.from_numpy(droid["pred_cam_T"]).float()
    np.testing.assert_allclose(T_c2w.inverse()[:, :3].numpy(), label["T_w2c"][:, :3].numpy(), atol=1e-4)
    flip = torch.load(f"{emdb}/imgfeats/emdb_flip/P0_09_outdoor_walk.pt", weights_only=False)
    assert flip["bbx_xys"].float().shape == (len(R_c2w), 3) and flip["features"].float().shape[1] == 1024
    rich = folders["rich"]
    vid = "test/Gym_013_burpee4/cam_06"
    assert len(torch.load(f"{rich}/rich_test_labels.pt", weights_only=False)[vid]["frame_id"]) == 38
    width, height = torch.load(f"{rich}/rich_test_preproc.pt", weights_only=False)[vid]["img_wh"] / 4
    T_w2c, K = torch.load(f"{rich}/resource/cam2params.pt", weights_only=False)["Gym_6"]
    assert T_w2c.shape == (4, 4) and K.shape == (3, 3) and float(width) == 4112 / 4
    pw3d = folders["3dpw"]
    labels = torch.load(f"{pw3d}/test_3dpw_gt_labels.pt", weights_only=False)
    vid = next(iter(labels))
    assert labels[vid]["mask_wham"].dtype == torch.bool and labels[vid]["K_fullimg"].shape == (3, 3)
    kp2d = torch.load(f"{pw3d}/preproc_test_kp2d_v0.pt", weights_only=False)[vid]
    assert kp2d.clone().shape == (len(labels[vid]["mask_wham"]), 17, 3)
    assert torch.load(f"{pw3d}/preproc_test_bbx.pt", weights_only=False)[vid]["bbx_xys"].shape[1] == 3
    assert torch.load(f"{pw3d}/imgfeats/3dpw_test/{vid}.pt", weights_only=False)["features"].float().shape[1] == 1024
