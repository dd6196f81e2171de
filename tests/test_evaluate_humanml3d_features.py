"""HumanML3D 263-d features: round trips through the reference's two recovery paths, invariance
to the world heading, and closed-form root velocity / turning / contact cases."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax.evaluate import humanml3d_features as hf
from genmo_jax.evaluate.alignment import fit_similarity

# Bone lengths (m) of joints 1..21 along the raw directions: shoulders wider than hips, as on SMPL
# (the reference's IK facing direction relies on it).
BONES = np.array([0, .06, .06, .12, .38, .38, .14, .40, .40, .06, .13, .13, .22, .17, .17, .10, .12, .12, .26,
                  .26, .25, .25])


def _rest_offsets(scale=1.0):
    return hf.RAW_OFFSETS * (BONES * scale)[:, None]


def _motion(frames=40, seed=0, step=(0.0, 0.0, 0.03), turn=0.0, still_torso=False):
    """FK of a wobbling skeleton walking with `step` per frame (heading frame) and turning `turn` rad/frame.

    still_torso: no rotation of the spine and collars, so hips and shoulders keep facing the heading.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames)
    wobble = 0.25 * np.sin(0.2 * t[:, None, None] + rng.uniform(0, 6, size=(1, 22, 1))) * rng.normal(size=(1, 22, 3))
    if still_torso:
        wobble[:, [1, 2, 3, 6, 9, 13, 14, 16, 17]] = 0.0  # (the bone ending at each joint)
    local = Rotation.from_rotvec(wobble.reshape(-1, 3)).as_quat().reshape(frames, 22, 4)[..., [3, 0, 1, 2]]
    heading = Rotation.from_rotvec(np.outer(turn * t, [0.0, 1.0, 0.0]))
    local[:, 0] = heading.as_quat()[:, [3, 0, 1, 2]]
    root = np.cumsum(heading.apply(np.tile(step, (frames, 1))), axis=0) + np.array([0.3, 0.95, -0.2])
    return hf.forward_kinematics(local, root, _rest_offsets())


def test_feature_layout_and_round_trips():
    joints = _motion()
    target = _rest_offsets(1.08)
    features = hf.joints_to_features(joints, target)
    assert features.shape == (39, hf.FEATURE_DIM) and features.dtype == np.float32
    data, canonical = hf._process(joints, target, hf.CONTACT_THRESHOLD)
    # The re-targeted skeleton has the target bone lengths.
    np.testing.assert_allclose(hf.skeleton_offsets(canonical[5]), target, atol=1e-9)
    # recover_from_ric gives the canonical motion back, up to the heading of frame 0 (a y rotation).
    from_ric = hf.recover_from_ric(data)
    fit = fit_similarity(from_ric.reshape(-1, 3), canonical[:-1].reshape(-1, 3), with_scale=False)
    np.testing.assert_allclose(np.asarray(fit.apply(from_ric.reshape(-1, 3))), canonical[:-1].reshape(-1, 3),
                               atol=1e-5)
    np.testing.assert_allclose(np.asarray(fit.rotation)[1], [0, 1, 0], atol=1e-6)  # about y only
    # FK of the 6D rotations (the reference's other recovery path) is consistent with it only when
    # the frame-0 heading is exactly +z (it rotates the bones by the inverse of that offset): a torso
    # that keeps facing +z while the limbs move gives the canonical motion on both paths.
    joints = _motion(still_torso=True)
    data, canonical = hf._process(joints, target, hf.CONTACT_THRESHOLD)
    np.testing.assert_allclose(hf.recover_from_rot(data, target), canonical[:-1], atol=1e-6)
    np.testing.assert_allclose(hf.recover_from_ric(data), canonical[:-1], atol=1e-6)


def test_invariant_to_world_heading_and_position():
    joints = _motion(seed=1, turn=0.02)
    target = _rest_offsets()
    moved = Rotation.from_rotvec([0.0, 2.1, 0.0]).apply(joints.reshape(-1, 3)).reshape(joints.shape) + [4.0, 0.5, -3.0]
    np.testing.assert_allclose(hf.joints_to_features(moved, target), hf.joints_to_features(joints, target), atol=1e-4)


def test_root_velocity_contacts_and_turning_closed_form():
    target = _rest_offsets()
    rest = np.tile([1.0, 0.0, 0.0, 0.0], (1, 22, 1))  # identity rotations: facing +z
    still = np.repeat(hf.forward_kinematics(rest, np.array([[0.0, 0.95, 0.0]]), _rest_offsets()), 10, axis=0)
    f = hf.joints_to_features(still, target)
    np.testing.assert_allclose(f[:, :3], 0.0, atol=1e-7)
    np.testing.assert_array_equal(f[:, -4:], 1.0)
    # Gliding forward 5 cm/frame (squared 0.0025 > 0.002): no contact; 4 cm/frame (0.0016): contact.
    for step, contact in [(0.05, 0.0), (0.04, 1.0)]:
        glide = still + np.arange(10)[:, None, None] * np.array([0.0, 0.0, step])
        f = hf.joints_to_features(glide, target)
        np.testing.assert_allclose(f[:, 2], step, rtol=1e-5)  # forward = +z in the heading frame
        np.testing.assert_allclose(f[:, 1], 0.0, atol=1e-6)
        np.testing.assert_array_equal(f[:, -4:], contact)
    # Turning in place by w per frame: angular-velocity feature = -w / 2 (half-angle, heading inverse),
    # exact away from the ends of the 20-frame Gaussian smoothing of the facing direction (and while
    # the heading stays within +-180 degrees: see the module docstring).
    w = 0.01
    turning = _motion(frames=241, step=(0.0, 0.0, 0.0), turn=w)
    f = hf.joints_to_features(turning, target)
    np.testing.assert_allclose(f[100:140, 0], -w / 2, atol=1e-4)


def test_resampling_and_input_errors():
    joints = _motion(frames=31)  # one second at 30 fps
    resampled = hf.resample(joints, 30.0)
    assert resampled.shape == (21, 22, 3)
    np.testing.assert_allclose(resampled[[0, 10, 20]], joints[[0, 15, 30]], atol=1e-12)
    np.testing.assert_allclose(resampled[1], (joints[1] + joints[2]) / 2, atol=1e-12)  # t = 1.5 frames at 30 fps
    upsampled = hf.resample(joints, 30.0, 60.0)
    assert upsampled.shape == (61, 22, 3)
    np.testing.assert_allclose(upsampled[::2], joints, atol=1e-12)
    np.testing.assert_allclose(upsampled[1::2], (joints[:-1] + joints[1:]) / 2, atol=1e-12)
    assert hf.features_from_joints(np.concatenate([joints, joints[:, :2]], 1), _rest_offsets()).shape == (20, 263)
    with pytest.raises(ValueError, match="22, 3"):
        hf.joints_to_features(joints[:, :21], _rest_offsets())
    with pytest.raises(ValueError, match="target_offsets"):
        hf.joints_to_features(joints, np.zeros((21, 3)))
