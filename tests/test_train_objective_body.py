"""The train step's body pass (objective.body_points) equals the generic body model:
``smpl.skeleton_forward`` joints and ``smpl.forward`` sparse vertices, values and gradients."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from genmo_jax.body import select, smpl
from genmo_jax.train import objective


def test_body_points_equal_smpl_forward_values_and_gradients():
    body = select.body_model_from_config(ml_collections.ConfigDict(
        {"model": "open", "gender": "neutral"}))
    rng = np.random.default_rng(0)
    shape = (2, 3)
    pose = jnp.asarray(rng.normal(size=shape + (63,)) * 0.4, jnp.float32)
    betas = jnp.asarray(rng.normal(size=shape + (10,)), jnp.float32)
    orient = jnp.asarray(rng.normal(size=shape + (3,)), jnp.float32)
    transl = jnp.asarray(rng.normal(size=shape + (3,)), jnp.float32)

    def reference(pose, betas, orient, transl):
        joints = smpl.skeleton_forward(body, betas, orient, pose, transl)[..., :22, :]
        verts = smpl.forward(body, betas, orient, pose, transl,
                             vertex_ids=body.sparse_vertex_ids)["vertices"]
        return joints, verts

    def fast(pose, betas, orient, transl):
        return objective.body_points(body, pose, betas, orient, transl)

    (j_ref, v_ref), (j, v) = reference(pose, betas, orient, transl), \
        jax.jit(fast)(pose, betas, orient, transl)
    assert j.shape == shape + (22, 3) and v.shape == shape + body.sparse_vertex_ids.shape + (3,)
    np.testing.assert_allclose(j, j_ref, atol=1e-6)
    np.testing.assert_allclose(v, v_ref, atol=2e-6)

    weights = [jnp.asarray(rng.normal(size=j.shape), jnp.float32),
               jnp.asarray(rng.normal(size=v.shape), jnp.float32)]

    def scalar(fn):
        return lambda *a: sum(jnp.sum(w * x) for w, x in zip(weights, fn(*a)))

    g_ref = jax.grad(scalar(reference), argnums=(0, 1, 2, 3))(pose, betas, orient, transl)
    g = jax.jit(jax.grad(scalar(fast), argnums=(0, 1, 2, 3)))(pose, betas, orient, transl)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * float(np.abs(b).max()))
