"""Rotation conversions against scipy.spatial.transform.Rotation, round trips and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax.body import rotations as rot

ATOL = 2e-5


def _random_rotvecs(n, seed=0):
    return Rotation.random(n, random_state=seed).as_rotvec()


def _edge_rotvecs():
    """Identity, tiny angles, exactly pi about axes and oblique axes, just under pi."""
    axes = np.array(
        [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, -1, 1], [0, 1, -1], [-0.3, 0.2, 0.9]], float
    )
    axes /= np.linalg.norm(axes, axis=-1, keepdims=True)
    rows = [np.zeros(3), np.array([1e-8, 0, 0]), np.array([0, -3e-4, 2e-4])]
    for angle in (np.pi, np.pi - 1e-4, 1e-3, 0.5 * np.pi):
        rows.extend(axes * angle)
    return np.stack(rows)


def _all_rotvecs():
    return np.concatenate([_random_rotvecs(200), _edge_rotvecs()])


def _rotation_distance(a, b):
    """Angle (rad) of a^T b for matrices (..., 3, 3)."""
    rel = np.einsum("...ji,...jk->...ik", a, b)
    cos = np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    return np.arccos(cos)


def test_axis_angle_to_matrix_matches_scipy():
    rv = _all_rotvecs()
    got = np.asarray(rot.axis_angle_to_matrix(jnp.asarray(rv, jnp.float32)))
    np.testing.assert_allclose(got, Rotation.from_rotvec(rv).as_matrix(), atol=ATOL)


def test_quaternion_to_matrix_matches_scipy():
    quat_xyzw = Rotation.random(100, random_state=1).as_quat()
    quat_wxyz = np.roll(quat_xyzw, 1, axis=-1)
    # Non-unit input is allowed: scale must not matter.
    got = np.asarray(rot.quaternion_to_matrix(jnp.asarray(3.0 * quat_wxyz, jnp.float32)))
    np.testing.assert_allclose(got, Rotation.from_quat(quat_xyzw).as_matrix(), atol=ATOL)


def test_matrix_to_quaternion_matches_scipy_up_to_sign():
    rv = _all_rotvecs()
    mats = Rotation.from_rotvec(rv).as_matrix()
    got = np.asarray(rot.matrix_to_quaternion(jnp.asarray(mats, jnp.float32)))
    want = np.roll(Rotation.from_matrix(mats).as_quat(), 1, axis=-1)
    want = np.where(want[:, :1] < 0, -want, want)
    assert np.all(got[:, 0] >= 0)
    # At exactly pi (w = 0), q and -q both have w = 0: compare up to sign there.
    sign = np.sign(np.sum(got * want, axis=-1, keepdims=True))
    np.testing.assert_allclose(got * sign, want, atol=ATOL)
    np.testing.assert_allclose(np.linalg.norm(got, axis=-1), 1.0, atol=1e-6)


def test_matrix_to_axis_angle_matches_scipy():
    rv = _all_rotvecs()
    mats = Rotation.from_rotvec(rv).as_matrix()
    got = np.asarray(rot.matrix_to_axis_angle(jnp.asarray(mats, jnp.float32)))
    want = Rotation.from_matrix(mats).as_rotvec()
    angle = np.linalg.norm(want, axis=-1)
    not_pi = angle < np.pi - 1e-3
    np.testing.assert_allclose(got[not_pi], want[not_pi], atol=ATOL)
    # At pi the rotation vector's sign is ambiguous: compare as rotations and angle = pi.
    np.testing.assert_allclose(np.linalg.norm(got[~not_pi], axis=-1), angle[~not_pi], atol=1e-4)
    dist = _rotation_distance(Rotation.from_rotvec(got.astype(np.float64)).as_matrix(), mats)
    assert dist.max() < 1e-3


def test_axis_angle_quaternion_round_trip_and_scipy():
    rv = _all_rotvecs()
    q = np.asarray(rot.axis_angle_to_quaternion(jnp.asarray(rv, jnp.float32)))
    want = np.roll(Rotation.from_rotvec(rv).as_quat(), 1, axis=-1)
    sign = np.sign(np.sum(q * want, axis=-1, keepdims=True))
    np.testing.assert_allclose(q, want * sign, atol=ATOL)
    back = np.asarray(rot.quaternion_to_axis_angle(jnp.asarray(q)))
    dist = _rotation_distance(Rotation.from_rotvec(back.astype(np.float64)).as_matrix(), Rotation.from_rotvec(rv).as_matrix())
    assert dist.max() < 1e-3
    small = np.linalg.norm(rv, axis=-1) < np.pi - 1e-3
    np.testing.assert_allclose(back[small], rv[small], atol=ATOL)


def test_rotation_6d_is_first_two_rows_and_round_trips():
    rv = _all_rotvecs()
    mats = Rotation.from_rotvec(rv).as_matrix().astype(np.float32)
    d6 = np.asarray(rot.matrix_to_rotation_6d(jnp.asarray(mats)))
    np.testing.assert_array_equal(d6, mats[:, :2, :].reshape(-1, 6))
    np.testing.assert_allclose(np.asarray(rot.rotation_6d_to_matrix(jnp.asarray(d6))), mats, atol=ATOL)
    aa6 = np.asarray(rot.axis_angle_to_rotation_6d(jnp.asarray(rv, jnp.float32)))
    np.testing.assert_allclose(aa6, mats[:, :2, :].reshape(-1, 6), atol=ATOL)
    back = np.asarray(rot.rotation_6d_to_axis_angle(jnp.asarray(aa6)))
    dist = _rotation_distance(Rotation.from_rotvec(back.astype(np.float64)).as_matrix(), mats.astype(np.float64))
    assert dist.max() < 1e-3


def test_rotation_6d_gram_schmidt_on_noisy_rows():
    """A scaled, skewed 6D input maps to the Gram-Schmidt orthonormalisation of its rows."""
    rng = np.random.default_rng(3)
    d6 = rng.normal(size=(50, 6))
    got = np.asarray(rot.rotation_6d_to_matrix(jnp.asarray(d6, jnp.float32)))
    a1, a2 = d6[:, :3], d6[:, 3:]
    b1 = a1 / np.linalg.norm(a1, axis=-1, keepdims=True)
    b2 = a2 - np.sum(b1 * a2, -1, keepdims=True) * b1
    b2 /= np.linalg.norm(b2, axis=-1, keepdims=True)
    want = np.stack([b1, b2, np.cross(b1, b2)], axis=-2)
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(got), 1.0, atol=1e-5)


def test_batched_leading_axes_and_jit():
    rv = _random_rotvecs(24, seed=5).reshape(2, 3, 4, 3).astype(np.float32)
    f = jax.jit(lambda x: rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(x)))
    out = np.asarray(f(jnp.asarray(rv)))
    assert out.shape == (2, 3, 4, 3)
    np.testing.assert_allclose(out, rv, atol=1e-4)
    mapped = jax.vmap(jax.vmap(rot.axis_angle_to_rotation_6d))(jnp.asarray(rv[0]))
    np.testing.assert_allclose(np.asarray(mapped), np.asarray(rot.axis_angle_to_rotation_6d(rv[0])), atol=1e-6)


@pytest.mark.parametrize(
    "fn, x",
    [
        (rot.axis_angle_to_matrix, np.zeros(3)),
        (rot.axis_angle_to_matrix, np.array([np.pi, 0.0, 0.0])),
        (rot.axis_angle_to_quaternion, np.zeros(3)),
        (rot.quaternion_to_axis_angle, np.array([1.0, 0.0, 0.0, 0.0])),
        (rot.quaternion_to_axis_angle, np.array([0.0, 0.0, 1.0, 0.0])),
        (rot.matrix_to_quaternion, np.eye(3)),
        (rot.matrix_to_quaternion, np.diag([1.0, -1.0, -1.0])),
        (rot.matrix_to_axis_angle, np.eye(3)),
        (rot.matrix_to_axis_angle, np.diag([-1.0, 1.0, -1.0])),
        (rot.matrix_to_axis_angle, Rotation.from_rotvec(np.array([1.0, 1.0, 0.0]) / np.sqrt(2) * np.pi).as_matrix()),
        (rot.rotation_6d_to_axis_angle, np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])),
        (rot.axis_angle_to_rotation_6d, np.zeros(3)),
    ],
)
def test_gradients_finite_at_identity_and_pi(fn, x):
    x = jnp.asarray(x, jnp.float32)
    grad = jax.grad(lambda v: jnp.sum(jnp.sin(fn(v)) * jnp.arange(1, fn(v).size + 1).reshape(fn(v).shape)))(x)
    assert np.all(np.isfinite(np.asarray(grad)))


def test_gradient_matches_finite_difference():
    """d/dv of the matrix <- axis angle and axis angle <- matrix, against central differences."""
    rng = np.random.default_rng(7)
    weights = rng.normal(size=(3, 3))
    for v in (np.array([0.3, -0.2, 0.5]), np.array([1e-5, 0.0, 2e-5]), np.array([0.0, 0.0, np.pi - 0.01])):
        f = lambda u: jnp.sum(rot.axis_angle_to_matrix(u) * weights)
        g = lambda u: jnp.sum(rot.matrix_to_axis_angle(rot.axis_angle_to_matrix(u)) * weights[0])
        for fun in (f, g):
            fun64 = lambda u: fun(jnp.asarray(u, jnp.float32))
            analytic = np.asarray(jax.grad(fun64)(v.astype(np.float32)))
            eps = 1e-3
            numeric = np.array(
                [(float(fun64(v + eps * e)) - float(fun64(v - eps * e))) / (2 * eps) for e in np.eye(3)]
            )
            np.testing.assert_allclose(analytic, numeric, atol=5e-3)
