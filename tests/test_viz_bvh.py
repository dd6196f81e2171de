"""BVH export: FK of the written file gives back the SMPL joints (independent scipy FK)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax.body.skeletons import SMPL_JOINT_NAMES, SMPL_PARENTS
from genmo_jax.viz import bvh


def _smpl_like_rest_joints(rng):
    # A T-pose-like skeleton: each joint offset from its parent by a random bone of 5-25 cm.
    rest = np.zeros((24, 3))
    rest[0] = [0.0, 0.9, 0.0]
    for j in range(1, 24):
        rest[j] = rest[SMPL_PARENTS[j]] + rng.uniform(-0.25, 0.25, 3)
    return rest


def _reference_fk(rest, global_orient, body_pose, transl):
    """SMPL FK with scipy: world joints (F, 24, 3)."""
    frames = global_orient.shape[0]
    local = np.concatenate([global_orient[:, None], body_pose.reshape(frames, 21, 3),
                            np.zeros((frames, 2, 3))], axis=1)
    mats = Rotation.from_rotvec(local.reshape(-1, 3)).as_matrix().reshape(frames, 24, 3, 3)
    glob = np.zeros_like(mats)
    pos = np.zeros((frames, 24, 3))
    for j in range(24):
        p = SMPL_PARENTS[j]
        if p < 0:
            glob[:, j] = mats[:, j]
            pos[:, j] = rest[0] + transl
        else:
            glob[:, j] = glob[:, p] @ mats[:, j]
            pos[:, j] = pos[:, p] + np.einsum("fij,j->fi", glob[:, p], rest[j] - rest[p])
    return pos


def test_bvh_round_trip_recovers_joint_positions(tmp_path):
    rng = np.random.default_rng(0)
    frames = 40
    rest = _smpl_like_rest_joints(rng)
    global_orient = Rotation.random(frames, random_state=1).as_rotvec()
    body_pose = rng.normal(scale=0.6, size=(frames, 63))
    transl = np.cumsum(rng.normal(scale=0.02, size=(frames, 3)), axis=0)
    path = tmp_path / "motion.bvh"
    bvh.write_smpl_bvh(path, rest, global_orient, body_pose, transl, fps=30.0)

    parsed = bvh.read_bvh(path)
    assert sorted(parsed.names) == sorted(SMPL_JOINT_NAMES)
    order = [parsed.names.index(n) for n in SMPL_JOINT_NAMES]  # file order is depth-first
    parents = [parsed.parents[i] for i in order]
    assert [SMPL_JOINT_NAMES[j] if j >= 0 else None for j in SMPL_PARENTS] == \
        [parsed.names[p] if p >= 0 else None for p in parents]
    assert parsed.frame_time == pytest.approx(1 / 30, rel=1e-6)
    positions_m = bvh.bvh_forward_kinematics(parsed)[:, order] / 100.0
    expected = _reference_fk(rest, global_orient, body_pose, transl)
    assert np.abs(positions_m - expected).max() < 1e-3  # 1 mm (file keeps 6 decimals of cm/deg)


def test_bvh_rejects_bad_shapes(tmp_path):
    with pytest.raises(ValueError, match="rest_joints"):
        bvh.write_smpl_bvh(tmp_path / "x.bvh", np.zeros((10, 3)), np.zeros((2, 3)), np.zeros((2, 63)),
                           np.zeros((2, 3)))


def test_read_bvh_names_the_file_on_truncated_motion(tmp_path):
    path = tmp_path / "bad.bvh"
    rest = _smpl_like_rest_joints(np.random.default_rng(1))
    bvh.write_smpl_bvh(path, rest, np.zeros((3, 3)), np.zeros((3, 63)), np.zeros((3, 3)))
    text = path.read_text().rsplit("\n", 2)[0]  # drop the last frame's values
    path.write_text(text)
    with pytest.raises(ValueError, match="bad.bvh"):
        bvh.read_bvh(path)
