"""Loss terms against closed forms and independent numpy/scipy computations."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

from genmo_jax.train import losses

RNG = np.random.default_rng(0)


def test_release_mean_counts_all_elements_and_blocks_nan():
    x = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    m = RNG.random((2, 5)) > 0.5
    x[~m] = np.nan
    got = losses.release_mean(jnp.asarray(x), jnp.asarray(m)[..., None])
    want = np.nansum(np.where(m[..., None], x, 0.0)) / x.size
    np.testing.assert_allclose(got, want, rtol=1e-6)
    g = jax.grad(lambda v: losses.release_mean(v, jnp.asarray(m)[..., None]))(jnp.asarray(x))
    assert np.all(np.isfinite(g))


def test_x0_mse_dim_weights_scale_only_their_dims():
    pred, target = (RNG.standard_normal((2, 4, 151)).astype(np.float32) for _ in range(2))
    mask = np.ones((2, 4, 151), bool)
    mask[1, 3] = False
    square = np.where(mask, (pred - target) ** 2, 0.0)
    weights = np.ones(151, np.float32)
    weights[148:] = 200.0
    plain = losses.x0_mse(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(mask))
    weighted = losses.x0_mse(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(mask),
                             jnp.asarray(weights))
    np.testing.assert_allclose(plain, square.sum() / square.size, rtol=1e-5)
    want = (square[..., :148].sum() + 200.0 * square[..., 148:].sum()) / square.size
    np.testing.assert_allclose(weighted, want, rtol=1e-5)


def test_masks_follow_spec_flags():
    length = jnp.asarray([3, 4, 4, 2])
    twod = jnp.asarray([False, True, False, False])
    incam = jnp.asarray([False, False, True, False])
    nocontact = jnp.asarray([False, False, False, True])
    m = losses.loss_masks(length, 4, twod, incam, nocontact)
    assert m["valid"].tolist()[0] == [True, True, True, False]
    assert not m["full3d"][1].any() and m["twod"][1].all()
    assert m["full3d"][2].all() and not m["reproj"][2].any() and not m["world"][2].any()
    assert m["reproj"][3, :2].all() and not m["contact"][3].any()
    assert m["contact"][0].tolist() == [True, True, True, False]
    x0m = losses.x0_mask(m, incam)
    assert x0m[2, 0, :136].all() and not x0m[2, 0, 136:].any()
    assert x0m[0, 0].all() and not x0m[1].any()


def test_projection_matches_numpy_and_bbox_corners():
    B, L, N = 2, 3, 5
    pts = RNG.uniform(-1, 1, (B, L, N, 3)).astype(np.float32)
    pts[..., 2] = RNG.uniform(2, 6, (B, L, N))
    K = np.tile(np.array([[1000.0, 0, 500], [0, 1100.0, 400], [0, 0, 1]], np.float32),
                (B, L, 1, 1))
    bbox = np.stack([RNG.uniform(300, 700, (B, L)), RNG.uniform(300, 500, (B, L)),
                     RNG.uniform(100, 400, (B, L))], -1).astype(np.float32)
    got = np.asarray(losses.project_to_bbox01(jnp.asarray(pts), jnp.asarray(K),
                                              jnp.asarray(bbox)))
    u = 1000 * pts[..., 0] / pts[..., 2] + 500
    v = 1100 * pts[..., 1] / pts[..., 2] + 400
    lu = bbox[..., :2] - bbox[..., 2:] / 2
    want = (np.stack([u, v], -1) - lu[:, :, None]) / bbox[:, :, None, 2:]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    corner = np.asarray(losses.pixels_to_bbox01(jnp.asarray(lu[:, :, None]), jnp.asarray(bbox)))
    np.testing.assert_allclose(corner, 0.0, atol=1e-5)
    # a point behind the camera is clamped to 0.3 m and excluded by the mask
    gt = pts.copy()
    gt[0, 0, 0, 2] = -1.0
    gt01 = losses.project_to_bbox01(jnp.asarray(gt), jnp.asarray(K), jnp.asarray(bbox))
    mask = losses.reprojection_mask(jnp.asarray(gt), jnp.asarray(pts), gt01,
                                    jnp.ones((B, L), bool))
    assert not bool(mask[0, 0, 0])


def test_rollout_inverts_the_local_velocity_encoding():
    B, L = 2, 7
    t = np.cumsum(RNG.standard_normal((B, L, 3)) * 0.05, axis=1).astype(np.float32)
    R = Rotation.random(B * L, random_state=1).as_matrix().reshape(B, L, 3, 3).astype(np.float32)
    v = np.einsum("blji,blj->bli", R[:, :-1], t[:, 1:] - t[:, :-1])     # R^T (t[k+1] - t[k])
    v = np.concatenate([v, v[:, -1:]], axis=1)
    rolled = losses.rollout_translation(jnp.asarray(v), jnp.asarray(R), jnp.asarray(t[:, 0]))
    np.testing.assert_allclose(rolled, t, atol=1e-5)
    loss = losses.transl_w_l1(jnp.asarray(v), jnp.asarray(R), jnp.asarray(t),
                              jnp.ones((B, L), bool))
    assert float(loss) < 1e-6
    loss = losses.transl_w_l1(jnp.asarray(v) + 0.01, jnp.asarray(R), jnp.asarray(t),
                              jnp.ones((B, L), bool))
    assert float(loss) > 1e-3


def test_contact_bce_matches_formula():
    logits = RNG.standard_normal((2, 3, 6)).astype(np.float32)
    labels = (RNG.random((2, 3, 6)) > 0.5).astype(np.float32)
    mask = np.ones((2, 3), bool)
    p = 1 / (1 + np.exp(-logits))
    want = np.mean(-(labels * np.log(p) + (1 - labels) * np.log(1 - p)))
    got = losses.contact_bce(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(mask))
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_root_relative_and_acceleration_closed_forms():
    B, L, N = 1, 5, 4
    gt = RNG.standard_normal((B, L, N, 3)).astype(np.float32)
    shifted = gt + 3.0                                    # same shape, other place
    loss = losses.root_relative_mse(jnp.asarray(shifted), jnp.asarray(gt),
                                    jnp.asarray(shifted[:, :, 0]), jnp.asarray(gt[:, :, 0]),
                                    jnp.ones((B, L), bool))
    assert float(loss) < 1e-10
    t = np.arange(L, dtype=np.float32)
    quad = np.zeros((B, L, 1, 3), np.float32)
    quad[..., 0] = 0.5 * 0.2 * t[None, :, None] ** 2       # constant acceleration 0.2
    acc = losses.acceleration_l2(jnp.asarray(quad), jnp.ones((B, L), bool))
    np.testing.assert_allclose(acc, 0.2 ** 2 * (L - 2) / ((L - 2) * 3), rtol=1e-4)


def test_reprojection_mse_ignores_masked_nan_targets():
    pred = jnp.zeros((1, 2, 3, 2))
    gt = np.ones((1, 2, 3, 2), np.float32)
    gt[0, 0, 0] = np.nan
    mask = np.ones((1, 2, 3), bool)
    mask[0, 0, 0] = False
    loss = losses.reprojection_mse(pred, jnp.asarray(gt), jnp.asarray(mask))
    np.testing.assert_allclose(loss, 10 / 12, rtol=1e-6)


def test_gravity_view_mse_is_the_world_joint_error_of_the_heading():
    """A posed skeleton S (root-relative, body frame) seen by a camera R_w2c: camera-frame joints
    R_c S, R_c = R_w2c R_w, and R_c2gv = G R_w2c with G a yaw-free (pitch/roll) GV frame. The term
    compares R_gv S: zero for any camera when the world orientation is right, and for a heading
    error of a about +y it equals mean |(R_y(a) - I) R_gv S|^2 (numpy/scipy reference)."""
    B, L, N = 2, 3, 5
    skeleton = RNG.standard_normal((B, L, N, 3))
    skeleton[..., 0, :] = 0.0
    R_w = Rotation.random(B * L, random_state=1).as_matrix().reshape(B, L, 3, 3)
    R_w2c = Rotation.random(B * L, random_state=2).as_matrix().reshape(B, L, 3, 3)
    yaw_free = Rotation.from_euler("xz", RNG.uniform(-0.3, 0.3, (B * L, 2))).as_matrix()
    R_c2gv = yaw_free.reshape(B, L, 3, 3) @ np.swapaxes(R_w2c, -1, -2)
    R_gv = R_c2gv @ R_w2c @ R_w
    root = RNG.standard_normal((B, L, 1, 3))
    joints_c = np.einsum("blij,blnj->blni", R_w2c @ R_w, skeleton) + root
    mask = jnp.ones((B, L), bool)
    f32 = lambda a: jnp.asarray(a, jnp.float32)   # noqa: E731
    # a different but correct camera-frame prediction (other camera, same world orientation)
    other = Rotation.random(B * L, random_state=3).as_matrix().reshape(B, L, 3, 3)
    pred_c = np.einsum("blij,blnj->blni", other @ R_w, skeleton) - root
    pred_c2gv = R_gv @ np.swapaxes(other @ R_w, -1, -2)
    assert float(losses.gravity_view_mse(f32(pred_c), f32(joints_c), f32(pred_c2gv), f32(R_c2gv),
                                         mask)) < 1e-10
    turn = Rotation.from_rotvec([0.0, 0.4, 0.0]).as_matrix()
    pred_c2gv = turn @ R_gv @ np.swapaxes(R_w2c @ R_w, -1, -2)
    want = np.mean(np.square(np.einsum("ij,blnj->blni", turn - np.eye(3),
                                       np.einsum("blij,blnj->blni", R_gv, skeleton))))
    got = losses.gravity_view_mse(f32(joints_c), f32(joints_c), f32(pred_c2gv), f32(R_c2gv), mask)
    np.testing.assert_allclose(float(got), want, rtol=1e-4)
    half = jnp.asarray([[True] * L, [False] * L])
    np.testing.assert_allclose(float(losses.gravity_view_mse(
        f32(joints_c), f32(joints_c), f32(pred_c2gv), f32(R_c2gv), half)),
        np.mean(np.square(np.einsum("ij,lnj->lni", turn - np.eye(3), np.einsum(
            "lij,lnj->lni", R_gv[0], skeleton[0])))) / 2, rtol=1e-4)


def test_objective_weights_only_the_velocity_dims_from_the_config_factor():
    from types import SimpleNamespace

    from genmo_jax.train import objective
    assert objective._x0_dim_weights(SimpleNamespace(weights={"simple": 1.0})) is None
    w = objective._x0_dim_weights(SimpleNamespace(weights={"simple_velocity_weight": 200.0}))
    assert w.shape == (151,) and (w[148:] == 200.0).all() and (w[:148] == 1.0).all()
