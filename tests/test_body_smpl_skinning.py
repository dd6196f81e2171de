"""`smpl.forward` lays every contraction out as a 2-D matmul (the train step's body pass,
`objective.body_points`, is one call of it). Reference: the textbook per-vertex LBS written with
einsums below (the formulation of the SMPL paper and smplx.lbs); values and gradients agree."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from genmo_jax.body import select, smpl
from genmo_jax.body.rotations import axis_angle_to_matrix
from genmo_jax.train import objective

HI = jax.lax.Precision.HIGHEST


def textbook_lbs(body, betas, orient, pose, transl, ids):
    """Per-vertex LBS with einsums: T = sum_j w_vj G_j; v' = T_R (v_template + B_S + B_P) + T_t."""
    full = jnp.concatenate([orient[..., None, :], pose.reshape(pose.shape[:-1] + (-1, 3))], -2)
    full = jnp.concatenate([full, jnp.zeros(full.shape[:-2] + (body.num_joints - full.shape[-2], 3))], -2)
    rot = axis_angle_to_matrix(full + body.pose_mean)
    rest = jnp.einsum("jv,...vc->...jc", body.J_regressor,
                      body.v_template + jnp.einsum("...s,vcs->...vc", betas, body.shapedirs, precision=HI),
                      precision=HI)
    g_rot, g_t = [rot[..., 0, :, :]], [rest[..., 0, :]]
    for j in range(1, body.num_joints):
        p = int(body.parents[j])
        g_rot.append(g_rot[p] @ rot[..., j, :, :])
        g_t.append(g_t[p] + jnp.einsum("...ab,...b->...a", g_rot[p], rest[..., j, :] - rest[..., p, :]))
    g_rot, g_t = jnp.stack(g_rot, -3), jnp.stack(g_t, -2)
    shift = g_t - jnp.einsum("...jab,...jb->...ja", g_rot, rest)
    w = body.weights[ids]
    v_rest = (body.v_template[ids] + jnp.einsum("...s,vcs->...vc", betas, body.shapedirs[ids], precision=HI)
              + jnp.einsum("...p,pvc->...vc", (rot[..., 1:, :, :] - jnp.eye(3)).reshape(rot.shape[:-3] + (-1,)),
                           body.posedirs[:, ids], precision=HI))
    v_rot = jnp.einsum("vj,...jab->...vab", w, g_rot, precision=HI)
    verts = jnp.einsum("...vab,...vb->...va", v_rot, v_rest) + jnp.einsum("vj,...ja->...va", w, shift, precision=HI)
    return g_t + transl[..., None, :], verts + transl[..., None, :]


def test_forward_equals_textbook_lbs_values_and_gradients():
    body = select.body_model_from_config(ml_collections.ConfigDict({"model": "open", "gender": "neutral"}))
    ids = body.sparse_vertex_ids
    rng = np.random.default_rng(0)
    shape = (2, 3)
    pose = jnp.asarray(rng.normal(size=shape + (63,)) * 0.4, jnp.float32)
    betas = jnp.asarray(rng.normal(size=shape + (10,)), jnp.float32)
    orient = jnp.asarray(rng.normal(size=shape + (3,)), jnp.float32)
    transl = jnp.asarray(rng.normal(size=shape + (3,)), jnp.float32)

    def reference(pose, betas, orient, transl):
        joints, verts = textbook_lbs(body, betas, orient, pose, transl, ids)
        return joints[..., :22, :], verts

    def fast(pose, betas, orient, transl):
        return objective.body_points(body, betas, objective.pose_rotations(orient, pose), transl)

    (j_ref, v_ref), (j, v) = reference(pose, betas, orient, transl), jax.jit(fast)(pose, betas, orient, transl)
    assert j.shape == shape + (22, 3) and v.shape == shape + ids.shape + (3,)
    np.testing.assert_allclose(j, j_ref, atol=2e-6)
    np.testing.assert_allclose(v, v_ref, atol=2e-6)
    full = smpl.forward(body, betas[0, 0], orient[0, 0], pose[0, 0], transl[0, 0])["vertices"]
    np.testing.assert_allclose(full[ids], v[0, 0], atol=1e-6)   # the subset = the full mesh's rows

    weights = [jnp.asarray(rng.normal(size=j.shape), jnp.float32),
               jnp.asarray(rng.normal(size=v.shape), jnp.float32)]

    def scalar(fn):
        return lambda *a: sum(jnp.sum(w * x) for w, x in zip(weights, fn(*a)))

    g_ref = jax.grad(scalar(reference), argnums=(0, 1, 2, 3))(pose, betas, orient, transl)
    g = jax.jit(jax.grad(scalar(fast), argnums=(0, 1, 2, 3)))(pose, betas, orient, transl)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(np.abs(b).max()))


def test_predicted_rotations_equal_the_decoded_axis_angle_round_trip():
    """The losses read the network's 6D rotations as matrices directly; the reference is the
    release's route, 6D -> axis-angle (`decode_motion`) -> matrix."""
    from genmo_jax.motion import representation

    x = jnp.asarray(np.random.default_rng(3).normal(size=(2, 5, representation.MOTION_DIM)), jnp.float32)
    dec = representation.decode_motion(x)
    ref = objective.pose_rotations(dec["global_orient_c"], dec["body_pose"])
    got = objective.predicted_rotations(x)
    assert got.shape == (2, 5, 22, 3, 3)
    np.testing.assert_allclose(got, ref, atol=2e-5)
