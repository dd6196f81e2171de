"""Contact labels from joint speed."""

import jax.numpy as jnp
import numpy as np

from genmo_jax.body.skeletons import CONTACT_JOINTS
from genmo_jax.motion.contacts import contact_labels, joint_speed


def test_contact_labels_from_speed():
    frames = np.arange(10, dtype=np.float64)[:, None]
    # Joint 0 still, joint 1 at 0.1 m/s, joint 2 at 0.2 m/s, joint 3 still then moving at 1 m/s.
    x = np.stack(
        [np.zeros(10), 0.1 * frames[:, 0] / 30, 0.2 * frames[:, 0] / 30, np.where(frames[:, 0] < 5, 0.0, (frames[:, 0] - 5) / 30)], -1
    )
    joints = np.stack([x, np.zeros_like(x), np.zeros_like(x)], -1)  # (L, J, 3)
    speed = np.asarray(joint_speed(jnp.asarray(joints, jnp.float32)))
    np.testing.assert_allclose(speed[:, 1], 0.1, atol=1e-5)
    labels = np.asarray(contact_labels(jnp.asarray(joints, jnp.float32)))
    assert labels.dtype == bool and labels.shape == (10, 4)
    assert labels[:, 0].all() and labels[:, 1].all() and not labels[:, 2].any()
    np.testing.assert_array_equal(labels[:, 3], [True] * 5 + [False] * 5)  # frame 4 -> 5 still 0 m/s
    # Same thing, independent numpy reference on random joints, six contact joints picked.
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(scale=0.005, size=(2, 40, 24, 3)), axis=1)
    got = np.asarray(contact_labels(jnp.asarray(walk[..., CONTACT_JOINTS, :], jnp.float32)))
    step = np.linalg.norm(np.diff(walk[..., CONTACT_JOINTS, :], axis=1), axis=-1) * 30
    want = np.concatenate([step, step[:, -1:]], axis=1) < 0.15
    np.testing.assert_array_equal(got, want)
