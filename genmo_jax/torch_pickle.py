"""Reads and writes PyTorch `.pt` / `.pth` files (the zip format of `torch.save`) without torch.

GVHMR / GEM ship their test labels, pre-processed features, camera trajectories and regressors as
`torch.save` pickles: nested dicts of tensors, numpy arrays, strings and numbers. `load` turns
them into the same structure with every tensor as a numpy array (2-D sparse COO tensors as
`scipy.sparse.csr_matrix`: the 6890 x 10475 SMPL-X -> SMPL map is 288 MB dense). `save` writes
such a structure back in the format `torch.load` reads, so test fixtures have the exact on-disk
layout of the official files.

Safety: the unpickler resolves only an allow-list of globals (torch's tensor/storage rebuild
functions, numpy's array reconstruction, OrderedDict); any other object in the file is an error
naming it, so reading an untrusted file cannot run code.

Format (torch/serialization.py, "new zipfile serialization", version 3): a zip archive (stored,
not compressed) with `<prefix>/data.pkl` (pickle protocol 2; tensors as
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`, storages
as persistent ids `("storage", torch.<Type>Storage, key, location, numel)`), one raw
little-endian record `<prefix>/data/<key>` per storage, `<prefix>/byteorder` and
`<prefix>/version`.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile

import numpy as np
import scipy.sparse

STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
_DTYPE_TO_STORAGE = {np.dtype(v): k for k, v in STORAGE_DTYPES.items()}

# numpy's own pickle reconstruction (arrays, scalars, dtypes) is data-only and allowed.
_NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("_codecs", "encode"),  # protocol-2 pickles of numpy arrays encode their bytes with it
}


class _SparseCoo:
    """Stand-in for `torch.sparse_coo` (the layout argument of `_rebuild_sparse_tensor`)."""


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, path: str):
        super().__init__(file)
        self._archive = archive
        self._prefix = prefix
        self._path = path
        self._storages = {}

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_sparse_tensor":
            return _rebuild_sparse
        if module == "torch._utils" and name == "_rebuild_parameter":
            return lambda data, requires_grad, hooks, *unused: data
        if module == "torch" and name in STORAGE_DTYPES:
            return STORAGE_DTYPES[name]
        if module == "torch" and name == "Size":
            return tuple
        if module == "torch" and name == "sparse_coo":
            return _SparseCoo
        if module == "torch.serialization" and name == "_get_layout":  # newer torch pickles layouts by name
            return lambda layout_name: _SparseCoo if layout_name == "torch.sparse_coo" else layout_name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if (module, name) in _NUMPY_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{self._path}: unsupported object {module}.{name} in a torch file "
                                     "(only tensors, numpy arrays, dicts, lists and scalars are read)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"{self._path}: unknown persistent id {pid!r}")
        _, dtype, key, _location, numel = pid
        if key not in self._storages:
            raw = self._archive.read(f"{self._prefix}/data/{key}")
            storage = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
            if storage.size < numel:
                raise pickle.UnpicklingError(f"{self._path}: storage {key} has {storage.size} elements, "
                                             f"expected {numel}")
            self._storages[key] = storage.astype(np.dtype(dtype), copy=False)
        return self._storages[key]


def _rebuild_tensor(storage, offset, size, stride, *unused):
    if len(size) == 0:
        return storage[offset].copy()
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * item for s in stride))
    return np.array(view)  # a contiguous, writable copy


def _rebuild_sparse(layout, data):
    if layout is not _SparseCoo:
        raise pickle.UnpicklingError(f"unsupported sparse layout {layout!r}")
    indices, values, size = data[:3]
    if len(size) != 2:
        raise pickle.UnpicklingError(f"only 2-D sparse tensors are read; got size {tuple(size)}")
    return scipy.sparse.coo_matrix((values, (indices[0], indices[1])), shape=tuple(size)).tocsr()


def load(path):
    """The object a `torch.save` zip file holds, tensors as numpy arrays (2-D sparse as scipy CSR).

    Raises FileNotFoundError for a missing file, ValueError for a file that is not a torch zip
    pickle or holds objects other than tensors / arrays / containers / scalars.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"torch file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path}: not a torch zip file (legacy torch.save formats are not supported; "
                         "re-save it with torch >= 1.6)")
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        if not pickles:
            raise ValueError(f"{path}: no data.pkl record in the torch zip file")
        prefix = pickles[0][: -len("/data.pkl")]
        with archive.open(pickles[0]) as f:
            try:
                return _Unpickler(f, archive, prefix, path).load()
            except pickle.UnpicklingError as error:
                raise ValueError(str(error)) from None


class AsNumpy:
    """Marks an array that `save` writes as a pickled numpy array (as `torch.save` does for numpy
    arrays, e.g. the DROID-SLAM trajectories) instead of a torch tensor."""

    def __init__(self, array):
        self.array = np.asarray(array)


def _torch_global(module, name):
    # A class whose only role is to be pickled as the global `module.name` (see _Pickler.save_global).
    return type(name, (), {"__module__": module, "__qualname__": name, "_torch_global": (module, name)})


_REBUILD_TENSOR = _torch_global("torch._utils", "_rebuild_tensor_v2")
_STORAGE_TYPES = {name: _torch_global("torch", name) for name in STORAGE_DTYPES}


class _Storage:
    def __init__(self, key, array):
        self.key = key
        self.array = array


class _Pickler(pickle._Pickler):  # the pure-Python pickler: globals can be written without importing torch
    def __init__(self, file):
        super().__init__(file, protocol=2)
        self.storages = []

    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            storage_type = _STORAGE_TYPES[_DTYPE_TO_STORAGE[obj.array.dtype]]
            return ("storage", storage_type, obj.key, "cpu", obj.array.size)
        return None

    def save_global(self, obj, name=None):
        spec = getattr(obj, "_torch_global", None)
        if spec is None or not isinstance(obj, type):
            return super().save_global(obj, name)
        module, qualname = spec
        self.write(pickle.GLOBAL + module.encode() + b"\n" + qualname.encode() + b"\n")
        self.memoize(obj)

    def reducer_override(self, obj):
        if isinstance(obj, AsNumpy):
            return _numpy_reduce(obj.array)
        if isinstance(obj, np.ndarray) or isinstance(obj, np.generic) and not isinstance(obj, (np.str_, np.bytes_)):
            array = np.ascontiguousarray(obj)
            if array.dtype not in _DTYPE_TO_STORAGE:
                raise ValueError(f"cannot write a {array.dtype} array as a torch tensor "
                                 f"(supported: {sorted(str(d) for d in _DTYPE_TO_STORAGE)})")
            storage = _Storage(str(len(self.storages)), array.reshape(-1))
            self.storages.append(storage)
            strides = tuple(s // array.itemsize for s in array.strides) if array.ndim else ()
            return (_REBUILD_TENSOR, (storage, 0, tuple(array.shape), strides, False, collections.OrderedDict()))
        return NotImplemented


def _numpy_reduce(array):
    return array.__reduce_ex__(2)


def save(obj, path, prefix="archive"):
    """Writes `obj` (nested dict / list / tuple of numpy arrays, `AsNumpy`, str, int, float, bool,
    None) in `torch.save`'s zip format; numpy arrays become torch tensors of the same dtype."""
    buffer = io.BytesIO()
    pickler = _Pickler(buffer)
    pickler.dump(obj)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{prefix}/data.pkl", buffer.getvalue())
        archive.writestr(f"{prefix}/byteorder", "little")
        for storage in pickler.storages:
            archive.writestr(f"{prefix}/data/{storage.key}", storage.array.astype(
                storage.array.dtype.newbyteorder("<"), copy=False).tobytes())
        archive.writestr(f"{prefix}/version", "3\n")
