"""Rotation conversions: axis-angle, 3x3 matrix, quaternion (w, x, y, z) and 6D (first two rows).

Conventions (docs/CONVENTIONS.md):
- axis-angle = rotation vector (..., 3), radians; angle = norm, axis = direction.
- matrices (..., 3, 3) act on column vectors: x' = R @ x.
- quaternions (..., 4) are scalar first (w, x, y, z); the ones returned have w >= 0.
- 6D (..., 6) = the first two ROWS of R, flattened (r00, r01, r02, r10, r11, r12), the PyTorch3D /
  GEM convention; back by Gram-Schmidt on those rows, third row = their cross product.

Every function is batched over leading axes and is jit/vmap/grad safe: gradients are finite at
the identity and at angle pi (small-angle branches use Taylor series behind a "double where" so
the unused branch never sees 0/0).
"""

import jax
import jax.numpy as jnp

__all__ = [
    "axis_angle_to_matrix",
    "matrix_to_axis_angle",
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "axis_angle_to_quaternion",
    "quaternion_to_axis_angle",
    "matrix_to_rotation_6d",
    "rotation_6d_to_matrix",
    "axis_angle_to_rotation_6d",
    "rotation_6d_to_axis_angle",
    "matmul3",
    "matvec3",
]

# Below this squared angle (rad^2) the Taylor branches are used; their truncation error is
# O(theta^4) ~ 1e-12, far under float32 resolution.
_SMALL_ANGLE_SQ = 1e-6


def matmul3(a, b):
    """Batched small-matrix product (..., n, k) @ (..., k, m) -> (..., n, m), broadcasting.

    Written elementwise rather than as a dot: exact float32 on every backend (XLA's default GPU
    matmul is TF32) and no dot_general with several batch axes (XLA CPU produced mis-shaped dots
    for those under vmap). Use it for 3x3 rotations and the like, not for large contractions.
    """
    a, b = jnp.asarray(a), jnp.asarray(b)
    # Unrolled over the (small) inner size: 5-8x faster on CPU than a reduce over a size-3 axis.
    return sum(a[..., :, k, None] * b[..., None, k, :] for k in range(a.shape[-1]))


def matvec3(a, v):
    """Batched small matrix times vector (..., n, k) @ (..., k) -> (..., n), like `matmul3`."""
    a, v = jnp.asarray(a), jnp.asarray(v)
    return sum(a[..., :, k] * v[..., None, k] for k in range(a.shape[-1]))


def _safe_norm(x, axis=-1, keepdims=False, eps=1e-12):
    """Euclidean norm with a finite gradient at x = 0 (gradient 0 there)."""
    sq = jnp.sum(x * x, axis=axis, keepdims=keepdims)
    is_zero = sq < eps * eps
    return jnp.where(is_zero, 0.0, jnp.sqrt(jnp.where(is_zero, 1.0, sq)))


def _normalize(x, axis=-1, eps=1e-12):
    """x / max(|x|, eps) along `axis` (like torch.nn.functional.normalize)."""
    return x / jnp.maximum(_safe_norm(x, axis=axis, keepdims=True), eps)


@jax.jit
def axis_angle_to_matrix(axis_angle):
    """Rodrigues' formula. (..., 3) radians -> (..., 3, 3)."""
    axis_angle = jnp.asarray(axis_angle)
    theta_sq = jnp.sum(axis_angle * axis_angle, axis=-1)
    small = theta_sq < _SMALL_ANGLE_SQ
    theta = jnp.sqrt(jnp.where(small, 1.0, theta_sq))
    # sin(t)/t and (1 - cos(t))/t^2, with Taylor series near 0.
    sinc = jnp.where(small, 1.0 - theta_sq / 6.0, jnp.sin(theta) / theta)
    cosc = jnp.where(small, 0.5 - theta_sq / 24.0, (1.0 - jnp.cos(theta)) / jnp.where(small, 1.0, theta_sq))
    x, y, z = axis_angle[..., 0], axis_angle[..., 1], axis_angle[..., 2]
    zeros = jnp.zeros_like(x)
    # K = [v]_x (unnormalised), R = I + sinc K + cosc K^2.
    skew = jnp.stack(
        [
            jnp.stack([zeros, -z, y], axis=-1),
            jnp.stack([z, zeros, -x], axis=-1),
            jnp.stack([-y, x, zeros], axis=-1),
        ],
        axis=-2,
    )
    skew_sq = matmul3(skew, skew)
    eye = jnp.eye(3, dtype=axis_angle.dtype)
    return eye + sinc[..., None, None] * skew + cosc[..., None, None] * skew_sq


@jax.jit
def quaternion_to_matrix(quaternion):
    """(..., 4) (w, x, y, z), any non-zero norm -> (..., 3, 3) rotation matrix."""
    quaternion = jnp.asarray(quaternion)
    w, x, y, z = (quaternion[..., i] for i in range(4))
    two_s = 2.0 / jnp.sum(quaternion * quaternion, axis=-1)
    rows = [
        [1 - two_s * (y * y + z * z), two_s * (x * y - z * w), two_s * (x * z + y * w)],
        [two_s * (x * y + z * w), 1 - two_s * (x * x + z * z), two_s * (y * z - x * w)],
        [two_s * (x * z - y * w), two_s * (y * z + x * w), 1 - two_s * (x * x + y * y)],
    ]
    return jnp.stack([jnp.stack(r, axis=-1) for r in rows], axis=-2)


@jax.jit
def matrix_to_quaternion(matrix):
    """(..., 3, 3) rotation -> (..., 4) unit quaternion (w, x, y, z) with w >= 0.

    Shepperd's method: four candidate solutions, each accurate where its |component| is
    largest; the best-conditioned one is selected per element. The selected candidate divides
    by sqrt(4 q_i^2) >= 1, so no branch ever divides by a small number.
    """
    matrix = jnp.asarray(matrix)
    m00, m01, m02 = matrix[..., 0, 0], matrix[..., 0, 1], matrix[..., 0, 2]
    m10, m11, m12 = matrix[..., 1, 0], matrix[..., 1, 1], matrix[..., 1, 2]
    m20, m21, m22 = matrix[..., 2, 0], matrix[..., 2, 1], matrix[..., 2, 2]
    # 4 q_i^2 for i = w, x, y, z.
    four_q_sq = jnp.stack(
        [
            1.0 + m00 + m11 + m22,
            1.0 + m00 - m11 - m22,
            1.0 - m00 + m11 - m22,
            1.0 - m00 - m11 + m22,
        ],
        axis=-1,
    )
    # The chosen entry is >= 1; the floor only keeps unchosen branches finite (and their grads).
    two_q_abs = jnp.sqrt(jnp.maximum(four_q_sq, 0.1))
    # Row i = 4 q_i * (w, x, y, z).
    candidates = jnp.stack(
        [
            jnp.stack([four_q_sq[..., 0], m21 - m12, m02 - m20, m10 - m01], axis=-1),
            jnp.stack([m21 - m12, four_q_sq[..., 1], m10 + m01, m02 + m20], axis=-1),
            jnp.stack([m02 - m20, m10 + m01, four_q_sq[..., 2], m12 + m21], axis=-1),
            jnp.stack([m10 - m01, m20 + m02, m21 + m12, four_q_sq[..., 3]], axis=-1),
        ],
        axis=-2,
    ) / (2.0 * two_q_abs[..., :, None])
    best = jnp.argmax(four_q_sq, axis=-1)
    quaternion = jnp.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    quaternion = _normalize(quaternion)
    return jnp.where(quaternion[..., :1] < 0, -quaternion, quaternion)


@jax.jit
def axis_angle_to_quaternion(axis_angle):
    """(..., 3) radians -> (..., 4) unit quaternion (w, x, y, z), w >= 0 for angles <= pi."""
    axis_angle = jnp.asarray(axis_angle)
    theta_sq = jnp.sum(axis_angle * axis_angle, axis=-1, keepdims=True)
    small = theta_sq < _SMALL_ANGLE_SQ
    theta = jnp.sqrt(jnp.where(small, 1.0, theta_sq))
    half = 0.5 * theta
    # sin(theta/2)/theta, Taylor near 0.
    sin_half_over_theta = jnp.where(small, 0.5 - theta_sq / 48.0, jnp.sin(half) / theta)
    cos_half = jnp.where(small, 1.0 - theta_sq / 8.0, jnp.cos(half))
    return jnp.concatenate([cos_half, axis_angle * sin_half_over_theta], axis=-1)


@jax.jit
def quaternion_to_axis_angle(quaternion):
    """(..., 4) (w, x, y, z), any non-zero norm -> (..., 3) rotation vector with angle in [0, pi]."""
    quaternion = _normalize(jnp.asarray(quaternion))
    # q and -q are the same rotation; w >= 0 gives the angle in [0, pi].
    quaternion = jnp.where(quaternion[..., :1] < 0, -quaternion, quaternion)
    w = quaternion[..., :1]
    xyz = quaternion[..., 1:]
    sin_half_sq = jnp.sum(xyz * xyz, axis=-1, keepdims=True)
    small = sin_half_sq < _SMALL_ANGLE_SQ
    sin_half = jnp.sqrt(jnp.where(small, 1.0, sin_half_sq))
    # angle / sin(angle/2) = 2 atan2(s, w) / s; Taylor in s near 0 (then w ~ 1).
    w_safe = jnp.where(small, w, 1.0)
    scale = jnp.where(
        small,
        2.0 / w_safe - 2.0 * sin_half_sq / (3.0 * w_safe**3),
        2.0 * jnp.arctan2(sin_half, w) / sin_half,
    )
    return xyz * scale


@jax.jit
def matrix_to_axis_angle(matrix):
    """(..., 3, 3) rotation -> (..., 3) rotation vector, angle in [0, pi]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


@jax.jit
def matrix_to_rotation_6d(matrix):
    """(..., 3, 3) -> (..., 6): the first two rows of R, flattened row-major."""
    matrix = jnp.asarray(matrix)
    return matrix[..., :2, :].reshape(matrix.shape[:-2] + (6,))


@jax.jit
def rotation_6d_to_matrix(rotation_6d):
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt on the two rows; third row = row0 x row1."""
    rotation_6d = jnp.asarray(rotation_6d)
    a1, a2 = rotation_6d[..., :3], rotation_6d[..., 3:]
    b1 = _normalize(a1)
    b2 = _normalize(a2 - jnp.sum(b1 * a2, axis=-1, keepdims=True) * b1)
    b3 = jnp.cross(b1, b2)
    return jnp.stack([b1, b2, b3], axis=-2)


@jax.jit
def axis_angle_to_rotation_6d(axis_angle):
    """(..., 3) radians -> (..., 6)."""
    return matrix_to_rotation_6d(axis_angle_to_matrix(axis_angle))


@jax.jit
def rotation_6d_to_axis_angle(rotation_6d):
    """(..., 6) -> (..., 3) radians, angle in [0, pi]."""
    return matrix_to_axis_angle(rotation_6d_to_matrix(rotation_6d))
