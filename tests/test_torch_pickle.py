"""Torch-free `.pt` reader/writer: round trip, and interoperability with torch (reference venv)."""

import collections
import pickle
import zipfile

import numpy as np
import pytest
import scipy.sparse

from genmo_jax import torch_pickle


def _nested(rng):
    return {
        "seq_a": {"smpl_params": {"body_pose": rng.normal(size=(5, 69)).astype(np.float32),
                                  "transl": rng.normal(size=(5, 3))},
                  "mask": np.array([True, False, True, True, True]), "gender": "female",
                  "ids": np.arange(5, dtype=np.int64), "half": np.ones((2, 2), np.float16)},
        "list": [np.int32(3), 2.5, None, ("x", 1)],
        "traj": {"pred_cam_R": torch_pickle.AsNumpy(np.eye(3)[None].repeat(4, 0)), "scale": 0.7},
    }


def _check_equal(a, b):
    if isinstance(a, torch_pickle.AsNumpy):
        a = a.array
    if isinstance(a, dict):
        assert set(a) == set(b)
        for k in a:
            _check_equal(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _check_equal(x, y)
    elif isinstance(a, (np.ndarray, np.generic)):
        assert np.asarray(b).dtype == np.asarray(a).dtype
        np.testing.assert_array_equal(np.asarray(b), np.asarray(a))
    else:
        assert a == b


def test_round_trip_keeps_structure_dtypes_and_values(tmp_path):
    rng = np.random.default_rng(0)
    data = _nested(rng)
    torch_pickle.save(data, tmp_path / "x.pt")
    back = torch_pickle.load(tmp_path / "x.pt")
    _check_equal(data, back)
    with zipfile.ZipFile(tmp_path / "x.pt") as archive:
        names = archive.namelist()
    assert "archive/data.pkl" in names and "archive/version" in names
    # A non-contiguous (transposed) array is written contiguous and read back equal.
    matrix = rng.normal(size=(3, 4)).T
    torch_pickle.save({"m": matrix}, tmp_path / "t.pt")
    np.testing.assert_array_equal(torch_pickle.load(tmp_path / "t.pt")["m"], matrix)


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        torch_pickle.load(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="bad.pt: not a torch zip"):
        torch_pickle.load(tmp_path / "bad.pt")
    # A pickle that references anything outside the allow-list is refused, not executed.
    evil = pickle.dumps(collections.Counter("ab"), protocol=2)
    with zipfile.ZipFile(tmp_path / "evil.pt", "w") as archive:
        archive.writestr("archive/data.pkl", evil)
    with pytest.raises(ValueError, match="evil.pt: unsupported object collections.Counter"):
        torch_pickle.load(tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="complex"):
        torch_pickle.save({"c": np.ones(2, np.complex64)}, tmp_path / "c.pt")


@pytest.mark.ref
def test_torch_reads_what_we_write(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    data = _nested(rng)
    torch_pickle.save(data, tmp_path / "x.pt")
    loaded = torch.load(tmp_path / "x.pt", weights_only=False)
    assert isinstance(loaded["seq_a"]["smpl_params"]["body_pose"], torch.Tensor)
    assert loaded["seq_a"]["mask"].dtype == torch.bool and loaded["seq_a"]["half"].dtype == torch.float16
    assert isinstance(loaded["traj"]["pred_cam_R"], np.ndarray)  # AsNumpy stays a numpy array
    as_numpy = {k: v for k, v in data.items()}

    def to_numpy(x):
        if isinstance(x, torch.Tensor):
            return x.numpy()
        if isinstance(x, dict):
            return {k: to_numpy(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return type(x)(to_numpy(v) for v in x)
        return x

    _check_equal(as_numpy, to_numpy(loaded))
    # Tensor-only files also pass torch's safe loader.
    torch_pickle.save({"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, tmp_path / "w.pt")
    assert torch.load(tmp_path / "w.pt", weights_only=True)["a"].shape == (2, 3)


@pytest.mark.ref
def test_we_read_what_torch_writes(tmp_path):
    torch = pytest.importorskip("torch")
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    dense = torch.tensor([[0.0, 0.5, 0.0], [0.25, 0.0, 0.25]])
    data = {"view": base[1:, ::2], "t": base.T, "bool": torch.tensor([True, False]), "int": torch.arange(3),
            "scalar": torch.tensor(2.5), "np": np.linspace(0, 1, 5), "name": "P0_09_outdoor_walk",
            "sparse": dense.to_sparse(), "nested": [{"x": torch.ones(2, 2, dtype=torch.float16)}]}
    torch.save(data, tmp_path / "t.pt")
    out = torch_pickle.load(tmp_path / "t.pt")
    np.testing.assert_array_equal(out["view"], base[1:, ::2].numpy())
    np.testing.assert_array_equal(out["t"], base.T.numpy())
    np.testing.assert_array_equal(out["bool"], [True, False])
    assert out["int"].dtype == np.int64 and float(out["scalar"]) == 2.5 and out["name"] == "P0_09_outdoor_walk"
    np.testing.assert_array_equal(out["np"], np.linspace(0, 1, 5))
    assert scipy.sparse.issparse(out["sparse"])
    np.testing.assert_array_equal(out["sparse"].toarray(), dense.numpy())
    assert out["nested"][0]["x"].dtype == np.float16
