"""Joint regression from vertices and the matrix loaders (numpy, scipy sparse, torch sparse)."""

import numpy as np
import pytest
import scipy.sparse

from genmo_jax.evaluate import joint_sets


def _regressor(rng, joints=14, vertices=50):
    dense = rng.random((joints, vertices)) * (rng.random((joints, vertices)) < 0.2)
    return (dense / np.maximum(dense.sum(1, keepdims=True), 1e-9)).astype(np.float32)


def test_regression_is_a_weighted_vertex_average_and_loaders_agree(tmp_path):
    rng = np.random.default_rng(0)
    regressor = _regressor(rng)
    vertices = rng.normal(size=(3, 7, 50, 3)).astype(np.float32)
    joints = np.asarray(joint_sets.regress_joints(vertices, regressor))
    assert joints.shape == (3, 7, 14, 3)
    j, v = 4, np.flatnonzero(regressor[4])
    np.testing.assert_allclose(joints[1, 2, j], (regressor[j, v, None] * vertices[1, 2, v]).sum(0), rtol=1e-5)
    np.save(tmp_path / "r.npy", regressor)
    scipy.sparse.save_npz(tmp_path / "r_sparse.npz", scipy.sparse.csr_matrix(regressor))
    np.savez(tmp_path / "r_dense.npz", matrix=regressor)
    for name in ["r.npy", "r_sparse.npz", "r_dense.npz"]:
        np.testing.assert_array_equal(joint_sets.load_matrix(str(tmp_path / name)), regressor)
    with pytest.raises(ValueError, match="expects 50 vertices"):
        joint_sets.regress_joints(vertices[..., :49, :], regressor)
    with pytest.raises(FileNotFoundError, match="not found"):
        joint_sets.load_matrix(str(tmp_path / "missing.pt"))
    (tmp_path / "r.txt").write_text("1 2")
    with pytest.raises(ValueError, match="unknown matrix format"):
        joint_sets.load_matrix(str(tmp_path / "r.txt"))


@pytest.mark.ref
@pytest.mark.filterwarnings("ignore:Validating sparse tensor invariants")  # torch's note on weights_only loads
def test_torch_sparse_files_as_gvhmr_ships_them(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    regressor = _regressor(rng, joints=24)
    torch.save(torch.from_numpy(regressor).to_sparse(), tmp_path / "smpl_neutral_J_regressor.pt")
    torch.save(torch.from_numpy(regressor), tmp_path / "dense.pt")
    for name in ["smpl_neutral_J_regressor.pt", "dense.pt"]:
        np.testing.assert_array_equal(joint_sets.load_matrix(str(tmp_path / name)), regressor)
    vertices = rng.normal(size=(5, 50, 3)).astype(np.float32)
    expected = torch.einsum("jv,fvc->fjc", torch.from_numpy(regressor), torch.from_numpy(vertices)).numpy()
    np.testing.assert_allclose(joint_sets.smplx_to_smpl_vertices(vertices, regressor), expected, rtol=1e-5, atol=1e-6)


def test_sparse_files_stay_sparse_on_request_and_pt_needs_no_torch(tmp_path):
    from genmo_jax import torch_pickle

    regressor = _regressor(np.random.default_rng(1))
    scipy.sparse.save_npz(tmp_path / "r_sparse.npz", scipy.sparse.csr_matrix(regressor))
    torch_pickle.save(regressor, tmp_path / "r_dense.pt")
    kept = joint_sets.load_matrix(str(tmp_path / "r_sparse.npz"), keep_sparse=True)
    assert scipy.sparse.issparse(kept) and kept.dtype == np.float32
    np.testing.assert_array_equal(kept.toarray(), regressor)
    np.testing.assert_array_equal(joint_sets.load_matrix(str(tmp_path / "r_dense.pt")), regressor)
    torch_pickle.save({"not": regressor}, tmp_path / "r_dict.pt")
    with pytest.raises(ValueError, match="r_dict.pt: expected a tensor"):
        joint_sets.load_matrix(str(tmp_path / "r_dict.pt"))
