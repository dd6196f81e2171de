"""Point-set alignment used by the estimation metrics: weighted Umeyama / Procrustes.

One solver serves every alignment of the benchmarks (PEERS.md 3.3, SPEC B 6.1-6.2):
- PA-MPJPE: per-frame similarity (scale, rotation, translation) of predicted joints onto GT;
- W-MPJPE100 / WA-MPJPE100: per-chunk similarity fitted on the first two frames / on all frames;
- RTE: rigid (scale fixed to 1) fit of the whole root trajectory.

The solution is Umeyama's (1991) closed form. With `U D Vh = svd(C)`, C the weighted
cross-covariance of the centred target and source points, the rotation is `U S Vh` where
`S = diag(1, 1, sign(det U det Vh))` fixes reflections, and the scale is `tr(D S) / var(source)`.
This equals the reference code's two forms (GVHMR `batch_compute_similarity_transform_torch`
and `align_pcl`), which solve the same least-squares problem.

Weights are 0/1 masks in practice; points with zero weight do not influence the fit. All
functions are jnp, batched over leading axes, and jit-safe.
"""

from typing import NamedTuple

import jax.numpy as jnp


class Similarity(NamedTuple):
    """`x -> scale * rotation @ x + translation`; shapes (...,), (..., 3, 3), (..., 3)."""

    scale: jnp.ndarray
    rotation: jnp.ndarray
    translation: jnp.ndarray

    def apply(self, points):
        """Transforms points (..., N, 3) with a transform of leading shape (...)."""
        rotated = jnp.einsum("...ij,...nj->...ni", self.rotation, points)
        return self.scale[..., None, None] * rotated + self.translation[..., None, :]


def fit_similarity(source, target, weights=None, with_scale=True):
    """Least-squares transform taking `source` onto `target` (Umeyama, reflection-fixed).

    Args:
      source: (..., N, 3) points to be moved (the prediction).
      target: (..., N, 3) corresponding points (the ground truth).
      weights: optional (..., N) non-negative weights; None = all ones.
      with_scale: False fixes the scale to 1 (a rigid fit, as for RTE).
    Returns:
      Similarity with leading shape (...). A fit with zero total weight returns a finite
      (meaningless) transform; callers mask its results.
    """
    source = jnp.asarray(source)
    target = jnp.asarray(target)
    if source.shape != target.shape or source.shape[-1] != 3:
        raise ValueError(f"source and target must both be (..., N, 3); got {source.shape} and {target.shape}")
    if weights is None:
        weights = jnp.ones(source.shape[:-1], source.dtype)
    weights = jnp.asarray(weights, source.dtype)
    w = weights[..., None]
    total = jnp.maximum(weights.sum(-1), 1e-12)[..., None]  # (..., 1)
    mean_source = (w * source).sum(-2) / total
    mean_target = (w * target).sum(-2) / total
    source_c = source - mean_source[..., None, :]
    target_c = target - mean_target[..., None, :]
    # Weighted cross-covariance C = sum_n w_n y_n x_n^T / sum_n w_n  (target rows, source columns).
    cov = jnp.einsum("...n,...ni,...nj->...ij", weights, target_c, source_c) / total[..., None]
    var_source = (weights * jnp.sum(source_c**2, -1)).sum(-1) / total[..., 0]
    return similarity_from_moments(mean_source, mean_target, cov, var_source, with_scale)


def similarity_from_moments(mean_source, mean_target, cov, var_source, with_scale=True):
    """Umeyama's closed form from the weighted moments of corresponding point sets.

    mean_source, mean_target: (..., 3); cov: (..., 3, 3) = E[(y - mean_y)(x - mean_x)^T] (target
    rows, source columns); var_source: (...,) = E[|x - mean_x|^2]. Lets callers that accumulate
    moments (e.g. per chunk with segment sums) share the solver.
    """
    u, d, vh = jnp.linalg.svd(cov)
    reflect = jnp.linalg.det(u) * jnp.linalg.det(vh) < 0
    s_diag = jnp.ones(d.shape, d.dtype).at[..., 2].set(jnp.where(reflect, -1.0, 1.0))
    rotation = jnp.einsum("...ij,...j,...jk->...ik", u, s_diag, vh)
    if with_scale:
        scale = (d * s_diag).sum(-1) / jnp.maximum(var_source, 1e-12)
    else:
        scale = jnp.ones(d.shape[:-1], d.dtype)
    translation = mean_target - scale[..., None] * jnp.einsum("...ij,...j->...i", rotation, mean_source)
    return Similarity(scale, rotation, translation)


def align_similarity(source, target, weights=None, with_scale=True):
    """`source` (..., N, 3) moved onto `target` by the transform `fit_similarity` returns."""
    return fit_similarity(source, target, weights, with_scale).apply(source)
