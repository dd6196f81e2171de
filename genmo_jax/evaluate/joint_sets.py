"""The benchmarks' joint sets: joints regressed from SMPL vertices (SPEC B 6, PEERS.md 3.3).

GVHMR / GEM score joints regressed from 6890-vertex SMPL meshes, never the body model's own FK
joints: 24 joints with the neutral SMPL J-regressor (`smpl_neutral_J_regressor.pt`, EMDB/RICH,
pelvis = mean of joints 1, 2) or 14 joints with the 3DPW regressor
(`smpl_3dpw14_J_regressor_sparse.pt`, pelvis = mean of joints 2, 3). SMPL-X meshes (predictions,
RICH ground truth) are first mapped to SMPL vertices with the sparse 6890 x 10475 matrix
`smplx2smpl_sparse.pt`. The user supplies these files; `load_matrix` reads them (`.pt` without
torch), and the products below are plain matrix products over the vertex axis.
"""

import os

import jax.numpy as jnp
import numpy as np
import scipy.sparse

from genmo_jax import torch_pickle


def load_matrix(path, *, keep_sparse=False):
    """A regressor / vertex-mapping matrix from `.npy`, `.npz` (dense `arr_0`/`matrix` or scipy
    sparse) or `.pt` (torch dense or sparse tensor, read without torch) -> float32 (rows, vertices):
    dense numpy, or scipy CSR when the file is sparse and `keep_sparse` (the 6890 x 10475
    SMPL-X -> SMPL map is 288 MB dense)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"joint regressor / vertex map not found: {path}")
    if path.endswith(".npy"):
        matrix = np.load(path)
    elif path.endswith(".npz"):
        try:
            matrix = scipy.sparse.load_npz(path)
        except (ValueError, KeyError):
            with np.load(path) as data:
                key = "matrix" if "matrix" in data.files else data.files[0]
                matrix = data[key]
    elif path.endswith(".pt"):
        matrix = torch_pickle.load(path)  # GVHMR / GEM ship these matrices as torch files
        if not (scipy.sparse.issparse(matrix) or isinstance(matrix, np.ndarray)):
            raise ValueError(f"{path}: expected a tensor, found {type(matrix).__name__}")
    else:
        raise ValueError(f"{path}: unknown matrix format (use .npy, .npz or .pt)")
    if scipy.sparse.issparse(matrix):
        matrix = matrix.tocsr().astype(np.float32)
        return matrix if keep_sparse else matrix.toarray()
    matrix = np.asarray(matrix, np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"{path}: expected a 2-D matrix, got shape {matrix.shape}")
    return matrix


def regress_joints(vertices, regressor):
    """(..., V, 3) vertices, (J, V) regressor -> (..., J, 3) joints."""
    regressor = jnp.asarray(regressor)
    if regressor.shape[-1] != vertices.shape[-2]:
        raise ValueError(f"regressor expects {regressor.shape[-1]} vertices; got {vertices.shape[-2]}")
    return jnp.einsum("jv,...vc->...jc", regressor, vertices)


def smplx_to_smpl_vertices(vertices_smplx, smplx2smpl):
    """(..., 10475, 3) SMPL-X vertices, (6890, 10475) map -> (..., 6890, 3) SMPL vertices."""
    return regress_joints(vertices_smplx, smplx2smpl)
