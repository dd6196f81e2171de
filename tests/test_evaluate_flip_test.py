"""Flip-test averaging: mirror geometry (M R M), involution, midpoint rotation mean (scipy reference)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax.body.skeletons import SMPLX_BODY_FLIP_PERM
from genmo_jax.evaluate import flip_test


def _params(rng, frames=4):
    return {"global_orient": rng.normal(size=(frames, 3)) * 0.7, "body_pose": rng.normal(size=(frames, 63)) * 0.4,
            "betas": rng.normal(size=(frames, 10)), "transl": rng.normal(size=(frames, 3))}


def test_mirror_is_the_reflection_conjugate_and_an_involution():
    rng = np.random.default_rng(0)
    params = _params(rng)
    mirrored = flip_test.mirror_pose(params)
    reflect = np.diag([-1.0, 1.0, 1.0])
    full = np.concatenate([params["global_orient"][:, None], params["body_pose"].reshape(4, 21, 3)], 1)
    full_m = np.concatenate([np.asarray(mirrored["global_orient"])[:, None],
                             np.asarray(mirrored["body_pose"]).reshape(4, 21, 3)], 1)
    for joint in range(22):
        source = Rotation.from_rotvec(full[:, SMPLX_BODY_FLIP_PERM[joint]]).as_matrix()
        np.testing.assert_allclose(Rotation.from_rotvec(full_m[:, joint]).as_matrix(), reflect @ source @ reflect,
                                   atol=1e-5)
    back = flip_test.mirror_pose(mirrored)
    np.testing.assert_allclose(back["body_pose"], params["body_pose"], atol=1e-6)
    np.testing.assert_array_equal(mirrored["transl"], params["transl"])  # passed through
    with pytest.raises(ValueError, match="body_pose"):
        flip_test.mirror_pose({"global_orient": params["global_orient"]})


def test_rotation_mean_is_the_geodesic_midpoint():
    rng = np.random.default_rng(1)
    base = Rotation.from_rotvec(rng.normal(size=(5, 3)))
    axis = rng.normal(size=(5, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    a = base * Rotation.from_rotvec(axis * 0.4)
    b = base * Rotation.from_rotvec(-axis * 0.4)
    mean = Rotation.from_rotvec(np.asarray(flip_test.rotation_mean(a.as_rotvec(), b.as_rotvec())))
    np.testing.assert_allclose(mean.as_matrix(), base.as_matrix(), atol=1e-5)


def test_average_with_a_consistent_flipped_pass_returns_the_original():
    rng = np.random.default_rng(2)
    params = _params(rng)
    flipped = flip_test.mirror_pose(params)  # what a perfectly consistent flipped pass would predict
    averaged = flip_test.flip_test_average(params, flipped)
    np.testing.assert_allclose(averaged["body_pose"], params["body_pose"], atol=1e-5)
    np.testing.assert_allclose(averaged["global_orient"], params["global_orient"], atol=1e-5)
    np.testing.assert_array_equal(averaged["transl"], params["transl"])
    other = dict(flipped, betas=params["betas"] + 1.0)
    np.testing.assert_allclose(flip_test.flip_test_average(params, other)["betas"], params["betas"] + 0.5)
    world = {"global_orient": np.zeros((4, 3)), "transl": np.ones((4, 3)), "body_pose": np.zeros((4, 63))}
    merged = flip_test.apply_to_world(world, averaged)
    np.testing.assert_array_equal(merged["transl"], world["transl"])
    np.testing.assert_array_equal(merged["body_pose"], averaged["body_pose"])
