"""Static-joint translation fix: planted joints stop sliding, softmax weighting, ground at y = 0."""

import numpy as np
import pytest

from genmo_jax.evaluate.postprocess import CONTACT_JOINTS, static_joint_translation


def _scene(frames=60):
    rng = np.random.default_rng(0)
    rest = rng.normal(size=(22, 3)) * 0.3 + np.array([0.0, 1.0, 0.0])
    transl = np.zeros((frames, 3))
    transl[:, 0] = 0.02 * np.arange(frames)  # the whole body slides 2 cm/frame along x
    joints = rest[None] + transl[:, None]
    return joints, transl


def test_planted_foot_stops_sliding_and_body_is_grounded():
    joints, transl = _scene()
    logits = np.full((60, 6), -3.0)
    logits[:, 1] = 2.0  # only the left foot (joint 10) is in contact
    new = np.asarray(static_joint_translation(joints, transl, logits))
    fixed = joints - transl[:, None] + new[:, None]
    np.testing.assert_allclose(fixed[:, 10, [0, 2]], np.broadcast_to(fixed[0, 10, [0, 2]], (60, 2)), atol=1e-5)
    assert fixed[..., 1].min() == pytest.approx(0.0, abs=1e-6)
    # Without any positive logit x and z keep the (already smooth) path; y still grounds the body.
    free = np.asarray(static_joint_translation(joints, transl, np.full((60, 6), -1.0)))
    # A linear path is kept by the smoothing except within its 12-frame radius of the ends.
    np.testing.assert_allclose(free[12:-12, 0], transl[12:-12, 0], atol=1e-5)
    assert (joints - transl[:, None] + free[:, None])[..., 1].min() == pytest.approx(0.0, abs=1e-6)


def test_softmax_weighting_of_two_static_joints():
    frames = 60
    joints, transl = _scene(frames)
    transl = np.zeros_like(transl)
    joints = joints - transl[:, None]  # a still body
    joints[:, 7, 2] += 0.01 * np.arange(frames)  # ankle slides 1 cm/frame in z
    joints[:, 8, 2] += 0.04 * np.arange(frames)  # the other ankle 4 cm/frame
    logits = np.full((frames, 6), -1.0)
    logits[:, 0], logits[:, 2] = 1.0, 1.0 + np.log(3.0)  # weights 1/4 and 3/4
    new = np.asarray(static_joint_translation(joints, transl, logits))
    expected_step = -(0.25 * 0.01 + 0.75 * 0.04)
    np.testing.assert_allclose(np.diff(new[:, 2])[12:-12], expected_step, atol=1e-6)
    assert len(CONTACT_JOINTS) == 6
    with pytest.raises(ValueError, match="contact logits"):
        static_joint_translation(joints, transl, logits[:, :4])


def test_padding_beyond_length_changes_nothing():
    joints, transl = _scene(50)
    logits = np.random.default_rng(3).normal(size=(50, 6)) * 3
    exact = np.asarray(static_joint_translation(joints, transl, logits))
    rng = np.random.default_rng(4)
    pad = lambda a: np.concatenate([a, rng.normal(size=(14,) + a.shape[1:]) * 5], 0)  # noqa: E731 garbage frames
    padded = np.asarray(static_joint_translation(pad(joints), pad(transl), pad(logits), length=50))
    np.testing.assert_allclose(padded[:50], exact, atol=1e-5)
