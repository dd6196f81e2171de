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
