"""Camera maths and the gravity-view frame: closed forms, projections and round trips."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax.body.rotations import rotation_6d_to_matrix
from genmo_jax.motion import camera
from genmo_jax.motion.gravity_view import gravity_view_rotation


def _intrinsics(n, rng):
    K = np.zeros((n, 3, 3))
    K[:, 0, 0] = K[:, 1, 1] = rng.uniform(600, 1500, n)
    K[:, 0, 2], K[:, 1, 2], K[:, 2, 2] = rng.uniform(300, 700, n), rng.uniform(200, 500, n), 1.0
    return K


def test_pred_cam_round_trip_and_weak_perspective_meaning():
    rng = np.random.default_rng(0)
    n = 64
    K = _intrinsics(n, rng)
    bbx = np.stack([rng.uniform(100, 900, n), rng.uniform(100, 600, n), rng.uniform(80, 400, n)], -1)
    transl = np.stack([rng.uniform(-1, 1, n), rng.uniform(-1, 1, n), rng.uniform(2, 10, n)], -1)
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    pred_cam = camera.transl_to_pred_cam(f32(transl), f32(bbx), f32(K))
    back = camera.pred_cam_to_transl(pred_cam, f32(bbx), f32(K))
    np.testing.assert_allclose(np.asarray(back), transl, atol=1e-5)
    # Weak perspective in the box: the translation projects to c_bbox + s b (tx, ty) / 2 and s = 2 f / (tz b).
    s, tx, ty = (np.asarray(pred_cam[:, i], np.float64) for i in range(3))
    pixel = np.asarray(camera.project_points(f32(transl)[:, None], f32(K)))[:, 0]
    np.testing.assert_allclose(pixel[:, 0], bbx[:, 0] + s * bbx[:, 2] * tx / 2, atol=1e-2)
    np.testing.assert_allclose(pixel[:, 1], bbx[:, 1] + s * bbx[:, 2] * ty / 2, atol=1e-2)
    np.testing.assert_allclose(s, 2 * K[:, 0, 0] / (transl[:, 2] * bbx[:, 2]), rtol=1e-5)
    # The decoded scale is clamped at 0.25 (the release), unless disabled.
    tiny = jnp.asarray([[0.01, 0.0, 0.0]])
    box, k = f32(bbx[:1]), f32(K[:1])
    assert float(camera.pred_cam_to_transl(tiny, box, k)[0, 2]) == pytest.approx(2 * K[0, 0, 0] / (0.25 * bbx[0, 2]), rel=1e-5)
    assert float(camera.pred_cam_to_transl(tiny, box, k, min_scale=None)[0, 2]) == pytest.approx(2 * K[0, 0, 0] / (0.01 * bbx[0, 2]), rel=1e-5)


def test_project_points_matches_pinhole():
    rng = np.random.default_rng(1)
    K = _intrinsics(2, rng)
    points = rng.normal(size=(2, 7, 3)) + np.array([0, 0, 5.0])
    want = np.einsum("bij,bnj->bni", K, points)
    want = want[..., :2] / want[..., 2:]
    np.testing.assert_allclose(np.asarray(camera.project_points(jnp.asarray(points, jnp.float32), jnp.asarray(K, jnp.float32))), want, rtol=1e-5)


def test_cam_angvel_steps_between_frames():
    R_w2c = Rotation.random(6, random_state=2).as_matrix()
    angvel = camera.cam_angvel_from_R_w2c(jnp.asarray(R_w2c, jnp.float32))
    assert angvel.shape == (6, 6)
    steps = np.asarray(rotation_6d_to_matrix(angvel), np.float64)
    np.testing.assert_allclose(np.einsum("lij,ljk->lik", steps[:-1], R_w2c[:-1]), R_w2c[1:], atol=1e-5)
    np.testing.assert_allclose(steps[-1], steps[-2], atol=1e-6)
    np.testing.assert_allclose(np.asarray(camera.cam_angvel_from_R_w2c(jnp.eye(3)[None])), [[1, 0, 0, 0, 1, 0]])


def test_bbox_info_and_kp2d_normalization():
    K = np.array([[1000.0, 0, 320], [0, 1000.0, 240], [0, 0, 1]])
    bbx = np.array([420.0, 190.0, 200.0])
    np.testing.assert_allclose(np.asarray(camera.bbox_info(bbx, K)), [0.1, -0.05, 0.2], atol=1e-7)
    kp = np.array([[420.0, 190.0, 0.9], [520.0, 290.0, 0.8], [320.0, 90.0, 0.7], [530.0, 190.0, 0.9]])
    out = np.asarray(camera.normalize_kp2d_to_bbox(kp, bbx))
    np.testing.assert_allclose(out[:, :2], [[0, 0], [1, 1], [-1, -1], [1.1, 0]], atol=1e-6)
    np.testing.assert_allclose(out[:, 2], [0.9, 0.8, 0.7, 0.0], atol=1e-7)  # the last is outside the box
    assert camera.normalize_kp2d_to_bbox(kp[:, :2], bbx).shape == (4, 2)


def test_world_to_camera_params_moves_the_body_rigidly():
    """A body point p (root-relative, rest frame) sits at R_w p + o + t_w in the world; the camera
    parameters must place it at R_w2c x_w + t_w2c."""
    rng = np.random.default_rng(3)
    n = 10
    orient_w = Rotation.random(n, random_state=4).as_rotvec()
    transl_w, t_w2c, offset = rng.normal(size=(3, n, 3))
    R_w2c = Rotation.random(n, random_state=5).as_matrix()
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    orient_c, transl_c = camera.world_to_camera_params(f32(orient_w), f32(transl_w), f32(R_w2c), f32(t_w2c), f32(offset))
    p = rng.normal(size=(n, 3))
    x_w = Rotation.from_rotvec(orient_w).apply(p) + offset + transl_w
    x_c = np.einsum("nij,nj->ni", R_w2c, x_w) + t_w2c
    x_c_params = Rotation.from_rotvec(np.asarray(orient_c, np.float64)).apply(p) + offset + np.asarray(transl_c)
    np.testing.assert_allclose(x_c_params, x_c, atol=1e-5)


def test_gravity_view_frame():
    level = np.diag([1.0, -1.0, -1.0])  # camera y down, looking along world -z
    np.testing.assert_allclose(np.asarray(gravity_view_rotation(level)), np.diag([-1.0, -1.0, 1.0]), atol=1e-7)
    R_w2c = Rotation.random(50, random_state=6).as_matrix()
    R_c2gv = np.asarray(gravity_view_rotation(jnp.asarray(R_w2c, jnp.float32)), np.float64)
    np.testing.assert_allclose(np.einsum("nij,nkj->nik", R_c2gv, R_c2gv), np.broadcast_to(np.eye(3), (50, 3, 3)), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(R_c2gv), 1.0, atol=1e-5)
    # World -> GV is a yaw about the up axis: world up stays up.
    np.testing.assert_allclose(np.einsum("nij,njk->nik", R_c2gv, R_w2c)[:, :, 1], np.tile([0, 1.0, 0], (50, 1)), atol=1e-5)
    # GV z (in camera coordinates) is the optical axis projected on the horizontal plane.
    up_c = R_w2c[:, :, 1]
    horizontal = np.array([0, 0, 1.0]) - up_c[:, 2:3] * up_c
    np.testing.assert_allclose(R_c2gv[:, 2], horizontal / np.linalg.norm(horizontal, axis=-1, keepdims=True), atol=1e-5)
    # AZ worlds (gravity (0, 0, -1)): world z stays up in GV.
    R_c2gv_z = np.asarray(gravity_view_rotation(jnp.asarray(R_w2c, jnp.float32), gravity_w=(0.0, 0.0, -1.0)))
    np.testing.assert_allclose(np.einsum("nij,njk->nik", R_c2gv_z, R_w2c)[:, :, 2], np.tile([0, 1.0, 0], (50, 1)), atol=1e-5)
    # Looking straight down: still a finite rotation.
    down = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # camera z = world -y
    R = np.asarray(gravity_view_rotation(down))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-6)
