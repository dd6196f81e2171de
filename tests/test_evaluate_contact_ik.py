"""Contact IK: sticky targets (loop reference), CCD on a 2-link planar chain vs the closed form,
no-op without contacts, bone lengths kept, planted feet pulled toward their targets."""

import jax.numpy as jnp
import numpy as np
import pytest

from genmo_jax.body import smpl
from genmo_jax.body.select import body_model_from_config
from genmo_jax.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from genmo_jax.evaluate import contact_ik


@pytest.fixture(scope="module")
def body():
    return body_model_from_config({"model": "open"})


def test_contact_targets_follow_the_recurrence():
    rng = np.random.default_rng(0)
    joints = rng.normal(size=(2, 9, 6, 3))
    logits = rng.normal(size=(2, 9, 6)) * 3
    conf = 1 / (1 + np.exp(-logits))
    expected = joints.copy()
    for t in range(1, 9):  # the release's loop
        expected[:, t] = conf[:, t - 1, :, None] * expected[:, t - 1] + (1 - conf[:, t - 1, :, None]) * joints[:, t]
    np.testing.assert_allclose(contact_ik.contact_targets(joints, logits), expected, atol=1e-5)
    held = contact_ik.contact_targets(joints, np.full((2, 9, 6), 50.0))  # always in contact: first frame
    np.testing.assert_allclose(held, np.broadcast_to(joints[:, :1], joints.shape), atol=1e-5)


def _planar_chain(elbow_angle):
    # Joint 0 at the origin (kept), shoulder 0.1 m along x, upper arm 0.3 m, forearm 0.25 m.
    offsets = np.array([[0, 0, 0], [0.1, 0, 0], [0.3, 0, 0], [0.25, 0, 0]], np.float32)
    local = np.tile(np.eye(3, dtype=np.float32), (4, 1, 1))
    local[2] = np.asarray(axis_angle_to_matrix(jnp.array([0.0, 0.0, elbow_angle])))
    return offsets, local


def _fk(offsets, local):
    rots, pos = contact_ik._chain_fk(jnp.eye(3), jnp.zeros(3), jnp.asarray(local), jnp.asarray(offsets))
    return np.asarray(rots), np.asarray(pos)


def test_ccd_converges_to_the_closed_form_two_link_solution():
    offsets, local = _planar_chain(0.3)
    target = np.array([[0.35, 0.3, 0.0]], np.float32)
    solved = contact_ik.ccd_ik_chain(jnp.eye(3), jnp.zeros(3), local, offsets, target, (3,), iterations=200,
                                     weighting="full")
    _, pos = _fk(offsets, solved)
    np.testing.assert_allclose(pos[3], target[0], atol=1e-4)
    np.testing.assert_allclose(pos[:, 2], 0.0, atol=1e-6)  # stays in the plane
    # Closed form: the elbow angle of a 2-link arm reaching distance d from the shoulder.
    l1, l2 = 0.3, 0.25
    d = np.linalg.norm(target[0] - offsets[1])
    elbow = np.arccos((d ** 2 - l1 ** 2 - l2 ** 2) / (2 * l1 * l2))
    got = np.linalg.norm(np.asarray(matrix_to_axis_angle(solved[2])))
    assert got == pytest.approx(elbow, abs=1e-3)
    shoulder_dir = (pos[2] - pos[1]) / l1
    delta = target[0] - offsets[1]
    expected_shoulder = np.arctan2(delta[1], delta[0]) - np.arctan2(l2 * np.sin(elbow), l1 + l2 * np.cos(elbow))
    assert np.arctan2(shoulder_dir[1], shoulder_dir[0]) == pytest.approx(expected_shoulder, abs=1e-3)
    # The release's setting (2 iterations, partial steps) moves toward the target without reaching it.
    _, before = _fk(offsets, local)
    _, after = _fk(offsets, contact_ik.ccd_ik_chain(jnp.eye(3), jnp.zeros(3), local, offsets, target, (3,)))
    assert np.linalg.norm(after[3] - target[0]) < 0.5 * np.linalg.norm(before[3] - target[0])


def _walk(frames=64, seed=0):
    rng = np.random.default_rng(seed)
    pose = (rng.normal(size=(frames, 63)) * 0.15).astype(np.float32)
    orient = np.tile(np.float32([0.1, 0.4, 0.0]), (frames, 1))
    transl = np.zeros((frames, 3), np.float32)
    transl[:, 2] = 0.03 * np.arange(frames)  # the body glides 3 cm/frame
    betas = np.zeros((frames, 10), np.float32)
    return betas, orient, pose, transl


def test_no_contact_is_a_no_op_and_bone_lengths_are_kept(body):
    betas, orient, pose, transl = _walk()
    same = contact_ik.contact_ik(body, betas, orient, pose, transl, np.full((64, 6), -30.0))
    np.testing.assert_allclose(axis_angle_to_matrix(same.reshape(64, 21, 3)),
                               axis_angle_to_matrix(pose.reshape(64, 21, 3)), atol=1e-4)
    logits = np.random.default_rng(1).normal(size=(64, 6)) * 4
    new = contact_ik.contact_ik(body, betas, orient, pose, transl, logits)
    before = np.asarray(smpl.skeleton_forward(body, betas, orient, pose, transl))[:, :22]
    after = np.asarray(smpl.skeleton_forward(body, betas, orient, new, transl))[:, :22]
    parents = np.array(contact_ik.SMPLX_BODY_PARENTS[1:])
    bone = lambda j: np.linalg.norm(j[:, 1:] - j[:, parents], axis=-1)  # noqa: E731
    np.testing.assert_allclose(bone(after), bone(before), atol=1e-5)
    np.testing.assert_allclose(after[:, [0, 3, 6, 9]], before[:, [0, 3, 6, 9]], atol=1e-5)  # root, spine kept
    assert not np.allclose(after, before, atol=1e-3)


def test_planted_left_foot_is_pulled_toward_its_first_position(body):
    betas, orient, pose, transl = _walk()
    logits = np.full((64, 6), -30.0)
    logits[:, :2] = 30.0  # left ankle and foot in contact: their targets stay at frame 0
    new = contact_ik.contact_ik(body, betas, orient, pose, transl, logits)
    before = np.asarray(smpl.skeleton_forward(body, betas, orient, pose, transl))
    after = np.asarray(smpl.skeleton_forward(body, betas, orient, new, transl))
    drift_before = np.linalg.norm(before[1:, 10] - before[0, 10], axis=-1)
    drift_after = np.linalg.norm(after[1:, 10] - before[0, 10], axis=-1)
    assert np.all(drift_after < drift_before) and drift_after.mean() < 0.6 * drift_before.mean()
    np.testing.assert_allclose(after[:, [8, 11, 20, 21]], before[:, [8, 11, 20, 21]], atol=1e-5)  # others kept
    with pytest.raises(ValueError, match="contact logits"):
        contact_ik.contact_ik(body, betas, orient, pose, transl, logits[:, :4])
