"""Normalisation statistics: simulated samples -> encode_motion mapping, and the stats CLI."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax.data import fixtures, shards, stats
from genmo_jax.data.converters import common
from genmo_jax.motion import normalization


def test_encoded_samples_follow_the_conventions_table():
    length, num = 4, 6
    yaw = Rotation.from_euler("y", 90, degrees=True)          # body faces world +x
    pose = np.random.default_rng(0).normal(size=(num, 63)) * 0.3
    orient_c = np.random.default_rng(1).normal(size=(num, 3))
    r_c2gv = np.tile(np.diag([-1.0, -1.0, 1.0]), (num, 1, 1))
    sample = dict(length=np.int32(length), body_pose=pose,
                  betas=np.tile(np.arange(10.0), (num, 1)),
                  global_orient_c=orient_c, global_orient_w=np.tile(yaw.as_rotvec(), (num, 1)),
                  R_c2gv=r_c2gv,
                  transl_w=np.stack([np.arange(num) * 0.05, np.zeros(num), np.zeros(num)], -1))
    x = stats.encode_samples([sample, sample])[1].astype(np.float64)
    assert x.shape == (num, 151)
    rot = Rotation.from_rotvec(pose[1].reshape(21, 3)).as_matrix()
    np.testing.assert_allclose(x[1, :126], rot[:, :2, :].reshape(-1), atol=1e-6)   # 2 rows
    np.testing.assert_allclose(x[1, 126:136], np.arange(10.0))
    rot_c = Rotation.from_rotvec(orient_c[2]).as_matrix()
    np.testing.assert_allclose(x[2, 136:142], rot_c[:2].reshape(-1), atol=1e-6)
    np.testing.assert_allclose(x[2, 142:148], (np.diag([-1.0, -1, 1]) @ rot_c)[:2].reshape(-1),
                               atol=1e-6)
    # Moving along world +x while facing +x is moving forward: v_local = R^T v = (0, 0, 0.05).
    np.testing.assert_allclose(x[:length, 148:], np.tile([0, 0, 0.05], (length, 1)), atol=1e-6)


def test_stats_cli_on_a_walking_clip(tmp_path):
    length = 150
    betas = np.linspace(-1, 1, 10)
    record = common.world_record(
        source="unit", name="walk", rest_joints_fn=fixtures.synthetic_rest_joints,
        global_orient=np.zeros((length, 3)), body_pose=np.zeros((length, 63)),
        transl=np.stack([np.zeros(length), np.zeros(length), 0.03 * np.arange(length)], -1),
        betas=betas)
    two_d = dict(common.world_record(
        source="unit", name="kp", rest_joints_fn=fixtures.synthetic_rest_joints,
        global_orient=np.ones((length, 3)), body_pose=np.ones((length, 63)),
        transl=np.zeros((length, 3)), betas=np.zeros(10), flag_2d_only=True,
        mask_world=np.zeros(length, bool)))
    shards.write_records(tmp_path / "walk", "walk", [record, two_d])
    assert stats.main(["--shards", str(tmp_path / "walk"), "--samples-per-record", "3"]) == 0
    result = normalization.load_stats(tmp_path / "walk" / "stats.npz", dim=151)
    mean, std = np.asarray(result.mean), np.asarray(result.std)
    np.testing.assert_allclose(mean[:126], np.tile([1, 0, 0, 0, 1, 0], 21), atol=1e-6)
    np.testing.assert_allclose(std[:136], 0, atol=1e-5)     # constant pose and betas
    np.testing.assert_allclose(mean[126:136], betas, atol=1e-6)   # the 2D-only clip is left out
    # Speed augmentation scales the forward speed by 1/1.5 .. 1.5; random yaw does not matter.
    assert 0.03 / 1.5 - 1e-6 <= mean[150] <= 0.03 * 1.5 + 1e-6
    np.testing.assert_allclose(mean[148:150], 0, atol=1e-6)
    with np.load(tmp_path / "walk" / "stats.npz") as data:
        assert 3 * 80 <= int(data["count"]) <= 3 * 120
    with pytest.raises(SystemExit):
        stats.main(["--shards", str(tmp_path / "walk"), str(tmp_path / "walk")])
    shards.write_records(tmp_path / "kp", "kp", [two_d])
    with pytest.raises(ValueError, match="no frames with world motion"):
        stats.compute_stats([tmp_path / "kp"], progress=False)
