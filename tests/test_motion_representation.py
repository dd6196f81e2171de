"""151-d motion vector: encode -> decode -> world rollout reproduces a walking, turning person seen
by a moving, pitching and rolling camera; streaming rollout equals the batch rollout."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d
from scipy.spatial.transform import Rotation

from genmo_jax.body import skeletons
from genmo_jax.body.smpl import load_body_model, rest_joints, skeleton_forward
from genmo_jax.motion import representation as rep
from genmo_jax.motion.camera import cam_angvel_from_R_w2c, world_to_camera_params
from genmo_jax.motion.gravity_view import gravity_view_rotation
from genmo_jax.motion.rollout import gaussian_smooth, rollout_scan, rollout_world

NUM_FRAMES = 300


@pytest.fixture(scope="module")
def body_model(tmp_path_factory):
    """A small random SMPL-layout model: only its skeleton matters here."""
    rng = np.random.default_rng(0)
    num_vertices, parents = 40, skeletons.SMPL_PARENTS
    joints = np.zeros((24, 3))
    for j in range(1, 24):
        joints[j] = joints[parents[j]] + rng.normal(scale=0.15, size=3)
    regressor = rng.random((24, num_vertices))
    regressor /= regressor.sum(1, keepdims=True)
    v_template = rng.normal(scale=0.5, size=(num_vertices, 3))
    # Make J_regressor @ v_template equal the random skeleton above (a plausible tree).
    v_template += np.linalg.lstsq(regressor, joints - regressor @ v_template, rcond=None)[0]
    path = tmp_path_factory.mktemp("body") / "body.npz"
    np.savez(
        path,
        v_template=v_template,
        shapedirs=rng.normal(scale=0.01, size=(num_vertices, 3, 10)),
        posedirs=np.zeros((num_vertices, 3, 207)),
        J_regressor=regressor,
        weights=np.full((num_vertices, 24), 1.0 / 24),
        kintree_table=np.stack([np.array(parents) % 2**32, np.arange(24)]),
        f=np.zeros((1, 3), np.int64),
    )
    return load_body_model(str(path))


def _yaw(a):
    return Rotation.from_rotvec(np.stack([np.zeros_like(a), a, np.zeros_like(a)], -1))


def make_scene(body_model, num_frames=NUM_FRAMES, seed=0):
    """World motion (y-up, 30 fps) of a walking, turning person and a moving camera."""
    rng = np.random.default_rng(seed)
    t = np.arange(num_frames, dtype=np.float64)
    heading = 0.8 * np.sin(2 * np.pi * t / 200) + 0.004 * t
    wobble = Rotation.from_rotvec(np.stack([0.05 * np.sin(t / 9), np.zeros_like(t), 0.03 * np.sin(t / 7)], -1))
    rot_w = _yaw(heading) * wobble
    step = 0.04 * np.stack([np.sin(heading), np.zeros_like(t), np.cos(heading)], -1)
    transl_w = np.cumsum(step, 0) + np.array([0.3, 0.0, -0.5])
    transl_w[:, 1] = 0.9 + 0.02 * np.sin(2 * np.pi * t / 30)
    phases = rng.uniform(0, 2 * np.pi, 63)
    body_pose = 0.3 * rng.uniform(0.3, 1.0, 63) * np.sin(2 * np.pi * t[:, None] / 60 + phases)
    betas = np.repeat(rng.normal(size=(1, 10)), num_frames, 0)
    # Camera: orbits and pans (yaw), pitches down and rolls a little; OpenCV axes.
    cam_yaw = 0.6 * np.sin(2 * np.pi * t / 250) + 0.003 * t
    cam_pitch = -0.15 + 0.05 * np.sin(t / 20)
    cam_roll = 0.04 * np.sin(t / 33)
    R_c2w = (
        _yaw(cam_yaw)
        * Rotation.from_rotvec(np.stack([cam_pitch, 0 * t, 0 * t], -1))
        * Rotation.from_rotvec(np.stack([0 * t, 0 * t, cam_roll], -1))
        * Rotation.from_matrix(np.diag([1.0, -1.0, -1.0]))
    )
    R_w2c = R_c2w.inv().as_matrix()
    cam_pos = np.stack([3 * np.sin(0.01 * t), 1.5 + 0.1 * np.sin(t / 40), 4.0 + 0.01 * t], -1)
    t_w2c = -np.einsum("lij,lj->li", R_w2c, cam_pos)
    f32 = lambda a: jnp.asarray(a, jnp.float32)
    params_w = {"global_orient": f32(rot_w.as_rotvec()), "transl": f32(transl_w), "body_pose": f32(body_pose), "betas": f32(betas)}
    offset = rest_joints(body_model, params_w["betas"])[..., 0, :]
    orient_c, transl_c = world_to_camera_params(params_w["global_orient"], params_w["transl"], f32(R_w2c), f32(t_w2c), offset)
    params_c = {"global_orient": orient_c, "transl": transl_c, "body_pose": params_w["body_pose"], "betas": params_w["betas"]}
    return params_w, params_c, f32(R_w2c), f32(t_w2c)


def _world_joint_error(body_model, params_w, R_w2c, decoded, rolled):
    """Max distance (m) between recovered and true joints, in the GV0 frame with the root of frame 0
    as origin (the rollout's frame: world yaw and start position are not observable)."""
    R_c2gv0 = gravity_view_rotation(R_w2c[0])
    R_w2gv0 = np.asarray(R_c2gv0 @ R_w2c[0])
    np.testing.assert_allclose(R_w2gv0[1], [0, 1, 0], atol=1e-5)  # a pure yaw
    true = np.asarray(skeleton_forward(body_model, params_w["betas"], params_w["global_orient"], params_w["body_pose"], params_w["transl"]))
    rec = np.asarray(skeleton_forward(body_model, decoded["betas"], rolled["global_orient"], decoded["body_pose"], rolled["transl"]))
    true_gv0 = np.einsum("ij,lkj->lki", R_w2gv0, true - true[0, 0])
    return np.linalg.norm((rec - rec[0, 0]) - true_gv0, axis=-1).max()


def _encode_decode_roll(params_w, params_c, R_w2c, smooth, **kw):
    x = rep.encode_motion(params_c, params_w, gravity_view_rotation(R_w2c))
    decoded = rep.decode_motion(x)
    rolled = rollout_world(decoded["global_orient_gv"], decoded["global_orient_c"], cam_angvel_from_R_w2c(R_w2c), decoded["local_transl_vel"], smooth=smooth, **kw)
    return x, decoded, rolled


@pytest.fixture(scope="module")
def scene(body_model):
    return make_scene(body_model)


def test_encode_decode_round_trip_slices(scene):
    params_w, params_c, R_w2c, _ = scene
    x, decoded, _ = _encode_decode_roll(params_w, params_c, R_w2c, smooth=False)
    assert x.shape == (NUM_FRAMES, rep.MOTION_DIM)
    np.testing.assert_allclose(np.asarray(decoded["betas"]), np.asarray(params_c["betas"]), atol=1e-6)
    for key, want in (("body_pose", params_c["body_pose"]), ("global_orient_c", params_c["global_orient"])):
        got = Rotation.from_rotvec(np.asarray(decoded[key], np.float64).reshape(-1, 3))
        ref = Rotation.from_rotvec(np.asarray(want, np.float64).reshape(-1, 3))
        assert (got.inv() * ref).magnitude().max() < 1e-5
    # GV orientation is upright-ish: the body's up axis (y) maps near GV +y (y-up GV).
    rot_gv = Rotation.from_rotvec(np.asarray(decoded["global_orient_gv"], np.float64)).as_matrix()
    assert np.all(rot_gv[:, 1, 1] > 0.9)
    # Velocity: GVHMR semantics v = R^T dt; the release convention is R dt.
    rot_w = Rotation.from_rotvec(np.asarray(params_w["global_orient"], np.float64)).as_matrix()
    # The world displacement of the last frame repeats its predecessor's, then is rotated by the
    # last frame's own root rotation.
    dt = np.diff(np.asarray(params_w["transl"], np.float64), axis=0)
    dt = np.concatenate([dt, dt[-1:]])
    np.testing.assert_allclose(np.asarray(decoded["local_transl_vel"]), np.einsum("lji,lj->li", rot_w, dt), atol=1e-6)
    x_release = rep.encode_motion(params_c, params_w, gravity_view_rotation(R_w2c), velocity_convention="release")
    np.testing.assert_allclose(np.asarray(x_release[:, rep.LOCAL_TRANSL_VEL]), np.einsum("lij,lj->li", rot_w, dt), atol=1e-6)
    np.testing.assert_array_equal(np.asarray(x_release[:, :148]), np.asarray(x[:, :148]))


def test_world_recovery_within_1mm_without_smoothing(body_model, scene):
    params_w, params_c, R_w2c, _ = scene
    _, decoded, rolled = _encode_decode_roll(params_w, params_c, R_w2c, smooth=False)
    assert _world_joint_error(body_model, params_w, R_w2c, decoded, rolled) < 1e-3


def test_world_recovery_with_smoothing_and_release_indexing(body_model, scene):
    """Smoothing the yaw steps of this smoothly moving camera costs < 1 cm over 300 frames
    (measured 5.4 mm; 2 um without smoothing); the release's one-frame-early yaw indexing drifts
    by 14 cm."""
    params_w, params_c, R_w2c, _ = scene
    _, decoded, rolled = _encode_decode_roll(params_w, params_c, R_w2c, smooth=True)
    smoothed_error = _world_joint_error(body_model, params_w, R_w2c, decoded, rolled)
    assert smoothed_error < 1e-2
    _, _, rolled_release = _encode_decode_roll(params_w, params_c, R_w2c, smooth=False, release_indexing=True)
    assert _world_joint_error(body_model, params_w, R_w2c, decoded, rolled_release) > 5e-2


def test_padding_does_not_leak_into_valid_frames(scene):
    params_w, params_c, R_w2c, _ = scene
    valid = 200
    junk = lambda a: a.at[valid:].set(a[valid:] * 3.0 + 1.0)
    params_w2 = {k: junk(v) for k, v in params_w.items()}
    R_w2c2 = R_w2c.at[valid:].set(jnp.eye(3))
    outs = []
    for pw, rc in ((params_w, R_w2c), (params_w2, R_w2c2)):
        x = rep.encode_motion(params_c, pw, gravity_view_rotation(rc), length=jnp.asarray(valid))
        d = rep.decode_motion(x)
        outs.append((x, rollout_world(d["global_orient_gv"], d["global_orient_c"], cam_angvel_from_R_w2c(rc), d["local_transl_vel"], length=jnp.asarray(valid))))
    np.testing.assert_allclose(np.asarray(outs[0][0][:valid, 148:]), np.asarray(outs[1][0][:valid, 148:]), atol=1e-6)
    for key in ("global_orient", "transl"):
        np.testing.assert_allclose(np.asarray(outs[0][1][key][:valid]), np.asarray(outs[1][1][key][:valid]), atol=1e-5)
    # Batched lengths (B,): each row behaves like its own sequence.
    lengths = jnp.asarray([valid, NUM_FRAMES])
    stack = lambda a, b: jnp.stack([a, b])
    pw_b = {k: stack(params_w2[k], params_w[k]) for k in params_w}
    pc_b = {k: stack(v, v) for k, v in params_c.items()}
    R_b = stack(R_w2c2, R_w2c)
    x_b = rep.encode_motion(pc_b, pw_b, gravity_view_rotation(R_b), length=lengths)
    d_b = rep.decode_motion(x_b)
    roll_b = rollout_world(d_b["global_orient_gv"], d_b["global_orient_c"], cam_angvel_from_R_w2c(R_b, lengths), d_b["local_transl_vel"], length=lengths)
    np.testing.assert_allclose(np.asarray(x_b[0, :valid]), np.asarray(outs[0][0][:valid]), atol=1e-6)
    np.testing.assert_allclose(np.asarray(roll_b["transl"][0, :valid]), np.asarray(outs[0][1]["transl"][:valid]), atol=1e-5)
    full = rollout_world(d_b["global_orient_gv"][1], d_b["global_orient_c"][1], cam_angvel_from_R_w2c(R_w2c), d_b["local_transl_vel"][1])
    np.testing.assert_allclose(np.asarray(roll_b["transl"][1]), np.asarray(full["transl"]), atol=1e-5)
    # The camera condition too.
    length = jnp.asarray(valid)
    np.testing.assert_array_equal(
        np.asarray(cam_angvel_from_R_w2c(R_w2c, length)[:valid]), np.asarray(cam_angvel_from_R_w2c(R_w2c2, length)[:valid])
    )


def test_streaming_rollout_equals_batch(scene):
    params_w, params_c, R_w2c, _ = scene
    d = rep.decode_motion(rep.encode_motion(params_c, params_w, gravity_view_rotation(R_w2c)))
    args = (d["global_orient_gv"], d["global_orient_c"], cam_angvel_from_R_w2c(R_w2c), d["local_transl_vel"])
    batch = rollout_world(*args, smooth=False)
    stream = rollout_scan(*args)
    np.testing.assert_allclose(np.asarray(stream["transl"]), np.asarray(batch["transl"]), atol=1e-5)
    diff = Rotation.from_rotvec(np.asarray(stream["global_orient"], np.float64).reshape(-1, 3)).inv() * Rotation.from_rotvec(
        np.asarray(batch["global_orient"], np.float64).reshape(-1, 3)
    )
    assert diff.magnitude().max() < 1e-5


def test_gaussian_smooth_matches_scipy():
    values = np.random.default_rng(3).normal(size=(2, 50))
    got = np.asarray(gaussian_smooth(jnp.asarray(values, jnp.float32)))
    np.testing.assert_allclose(got, gaussian_filter1d(values, sigma=3, axis=-1, mode="nearest", truncate=4.0), atol=1e-5)


def test_rollout_gradients_finite(scene):
    params_w, params_c, R_w2c, _ = scene
    cam_angvel = cam_angvel_from_R_w2c(R_w2c)

    def loss(x):
        d = rep.decode_motion(x)
        r = rollout_world(d["global_orient_gv"], d["global_orient_c"], cam_angvel, d["local_transl_vel"])
        return jnp.sum(r["transl"] ** 2) + jnp.sum(jnp.sin(r["global_orient"]))

    x = rep.encode_motion(params_c, params_w, gravity_view_rotation(R_w2c))
    grad = jax.jit(jax.grad(loss))(x)
    assert np.all(np.isfinite(np.asarray(grad))) and float(jnp.abs(grad).sum()) > 0


def test_bad_inputs():
    with pytest.raises(ValueError, match="151"):
        rep.decode_motion(jnp.zeros((3, 150)))
    with pytest.raises(ValueError, match="velocity_convention"):
        rep.local_transl_velocity(jnp.zeros((3, 3)), jnp.zeros((3, 3)), velocity_convention="nope")
    with pytest.raises(ValueError, match="betas"):
        rep.encode_motion({"body_pose": jnp.zeros((2, 63)), "global_orient": jnp.zeros((2, 3))}, {}, jnp.zeros((2, 3, 3)))
