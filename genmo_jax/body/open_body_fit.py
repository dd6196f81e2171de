"""Fitting helpers for the open body build (numpy/scipy, build-time): shape PCA, vertex
regressors, mesh decimation onto a vertex subset, farthest-point vertex sampling."""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.spatial


def principal_shape_directions(samples: np.ndarray, num: int):
    """PCA of shaped meshes in SMPL's convention.

    samples (N, V, 3) -> (mean (V, 3), directions (V, 3, num) scaled by their standard deviation
    so that betas ~ unit variance over the samples, explained variance fraction (num,)).
    Signs are fixed deterministically: each direction's largest-magnitude entry is positive.
    """
    n = samples.shape[0]
    flat = samples.reshape(n, -1)
    mean = flat.mean(axis=0)
    centred = flat - mean
    gram = centred @ centred.T / n  # (N, N): cheaper than the (3V, 3V) covariance
    eigvals, eigvecs = np.linalg.eigh(gram)
    order = np.argsort(eigvals)[::-1][:num]
    eigvals, eigvecs = eigvals[order], eigvecs[:, order]
    directions = centred.T @ eigvecs / np.sqrt(n * eigvals)  # (3V, num) unit columns
    for k in range(num):
        if directions[np.argmax(np.abs(directions[:, k])), k] < 0:
            directions[:, k] *= -1
    scaled = directions * np.sqrt(eigvals)
    explained = eigvals / np.trace(gram)
    return mean.reshape(-1, 3), scaled.reshape(-1, 3, num), explained


def fit_convex_regressor(targets: np.ndarray, vertices: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Non-negative weights summing to 1 on `support` vertices that best reproduce `targets`.

    targets (N, 3) points, vertices (N, V, 3) over N shaped samples, support (K,) vertex ids ->
    weights (K,). A convex combination is translation-equivariant, as a joint regressor must be.
    """
    n = targets.shape[0]
    a = vertices[:, support, :].transpose(0, 2, 1).reshape(3 * n, len(support))
    b = targets.reshape(3 * n)
    # The sum-to-one constraint as a heavily weighted extra row (scaled to the data's magnitude).
    penalty = 1e3 * max(1.0, np.abs(a).max())
    a = np.vstack([a, penalty * np.ones((1, len(support)))])
    b = np.concatenate([b, [penalty]])
    weights, _ = scipy.optimize.nnls(a, b, maxiter=50 * len(support))
    weights[weights < 1e-6] = 0.0
    return weights / weights.sum()


def fit_point_regressor(targets: np.ndarray, vertices: np.ndarray, num_support: int,
                        allowed: np.ndarray | None = None) -> np.ndarray:
    """Dense (P, V) regressor: each of P points a convex blend of its `num_support` nearest
    allowed vertices (on the first sample), fitted over all samples.

    targets (N, P, 3), vertices (N, V, 3), allowed (V,) bool or None.
    """
    n_points, n_vertices = targets.shape[1], vertices.shape[1]
    candidates = np.arange(n_vertices) if allowed is None else np.nonzero(allowed)[0]
    tree = scipy.spatial.cKDTree(vertices[0, candidates])
    regressor = np.zeros((n_points, n_vertices))
    for p in range(n_points):
        _, nearest = tree.query(targets[0, p], k=num_support)
        support = np.sort(candidates[nearest])
        regressor[p, support] = fit_convex_regressor(targets[:, p], vertices, support)
    return regressor


def decimate_to_subset(vertices: np.ndarray, faces: np.ndarray, target_vertices: int):
    """Quadric decimation (pyfqmr) whose vertices are snapped back onto original vertices.

    The light mesh is then an exact vertex subset of the full one, so every per-vertex array
    (template, shape directions, skin weights) carries over by indexing.
    Returns (subset (Vs,) sorted original ids, faces (Fs, 3) indexing the subset).
    """
    import pyfqmr

    simplifier = pyfqmr.Simplify()
    simplifier.setMesh(vertices.astype(np.float64), faces.astype(np.int32))
    # Faces ~ 2 x vertices on a closed surface.
    simplifier.simplify_mesh(target_count=2 * target_vertices, aggressiveness=7,
                             preserve_border=True, verbose=False)
    new_vertices, new_faces, _ = simplifier.getMesh()
    _, snapped = scipy.spatial.cKDTree(vertices).query(np.asarray(new_vertices))
    new_faces = snapped[np.asarray(new_faces)]
    keep = ((new_faces[:, 0] != new_faces[:, 1]) & (new_faces[:, 1] != new_faces[:, 2])
            & (new_faces[:, 0] != new_faces[:, 2]))
    new_faces = new_faces[keep]
    # Drop faces repeated after snapping (same vertex set), keeping the first orientation.
    _, first = np.unique(np.sort(new_faces, axis=1), axis=0, return_index=True)
    new_faces = new_faces[np.sort(first)]
    subset = np.unique(new_faces)
    remap = np.full(len(vertices), -1, dtype=np.int64)
    remap[subset] = np.arange(len(subset))
    return subset, remap[new_faces].astype(np.int32)


def farthest_point_ids(points: np.ndarray, num: int, start: int) -> np.ndarray:
    """Greedy farthest-point sampling: (num,) ids into points (P, 3), from index `start`."""
    chosen = [start]
    dist = np.linalg.norm(points - points[start], axis=1)
    for _ in range(num - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return np.asarray(chosen, dtype=np.int64)
