"""Devices, mesh, shardings and multi-host start-up: one program for 1 device, 8 devices or a pod.

The mesh has two axes, ``("data", "fsdp")`` (SPEC A14). The batch is split over both axes (every
device sees different samples); parameters, optimizer moments and the EMA copy are sharded over
``fsdp`` (ZeRO-3 style: XLA inserts the all-gathers before use and reduce-scatters the gradients)
and replicated over ``data``. Both axes are ``AxisType.Auto`` so GSPMD propagates shardings through
the model without per-op annotations (JAX_PRACTICES 1.5: an Explicit mesh rejects the FSDP matmul).

FSDP rule: a state leaf is sharded along its largest dimension that the fsdp axis size divides,
when it holds at least ``min_shard_size`` elements; smaller leaves (biases, norms, gates, scalars)
are replicated. Modules that annotate their Variables with logical axis names
(``nnx.with_partitioning``) can map them with ``LOGICAL_AXIS_RULES``; the shape rule covers every
module, annotated or not, which is what makes "FSDP shards every large matrix" hold by
construction.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Mapping

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

DATA_AXIS = "data"
FSDP_AXIS = "fsdp"
MESH_AXES = (DATA_AXIS, FSDP_AXIS)
BATCH_AXES = (DATA_AXIS, FSDP_AXIS)

# Logical names -> mesh axes, for modules that annotate Variables with nnx.with_partitioning.
LOGICAL_AXIS_RULES = (
    ("batch", BATCH_AXES),
    ("embed", FSDP_AXIS),
    ("mlp", None),
    ("heads", None),
    ("kv", None),
    ("length", None),
    ("vocab", None),
)

# Env vars that mean "this process is one of several": set by launch/*.sh, SLURM, Open MPI.
_MULTIHOST_ENV = ("JAX_COORDINATOR_ADDRESS", "SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE",
                  "MEGASCALE_COORDINATOR_ADDRESS", "TPU_WORKER_HOSTNAMES")

_initialized = False


def maybe_initialize_distributed(force: bool = False) -> bool:
    """Calls ``jax.distributed.initialize`` when several processes are launched; else a no-op.

    Triggered by ``force`` or by the environment: ``JAX_COORDINATOR_ADDRESS`` (with
    ``JAX_NUM_PROCESSES`` and ``JAX_PROCESS_ID``, as launch/local_multiprocess.sh sets them),
    SLURM (``SLURM_JOB_ID`` with more than one task), Open MPI, or a multi-worker Cloud TPU slice.
    Must run before anything touches a device. Returns True when JAX is (now) distributed.
    """
    global _initialized
    if _initialized:
        return True
    env = os.environ
    wanted = force or any(env.get(k) for k in _MULTIHOST_ENV)
    if env.get("SLURM_JOB_ID") and int(env.get("SLURM_NTASKS", "1")) <= 1 and not force:
        wanted = bool(env.get("JAX_COORDINATOR_ADDRESS"))   # a one-task SLURM job is one process
    if env.get("TPU_WORKER_HOSTNAMES") and "," not in env["TPU_WORKER_HOSTNAMES"] and not force:
        wanted = bool(env.get("JAX_COORDINATOR_ADDRESS"))   # single-host TPU VM
    if not wanted:
        return False
    kwargs: dict[str, Any] = {}
    if env.get("JAX_COORDINATOR_ADDRESS"):
        kwargs["coordinator_address"] = env["JAX_COORDINATOR_ADDRESS"]
        if env.get("JAX_NUM_PROCESSES"):
            kwargs["num_processes"] = int(env["JAX_NUM_PROCESSES"])
        if env.get("JAX_PROCESS_ID"):
            kwargs["process_id"] = int(env["JAX_PROCESS_ID"])
    logging.info("jax.distributed.initialize(%s)", kwargs)
    jax.distributed.initialize(**kwargs)
    _initialized = True
    return True


def make_mesh(data: int = -1, fsdp: int = 1, devices=None) -> Mesh:
    """A ``("data", "fsdp")`` mesh with Auto axis types over all (global) devices.

    Args:
      data: size of the data axis; -1 fills it with ``device_count // fsdp``.
      fsdp: size of the fsdp axis; -1 fills it with ``device_count // data``.
      devices: optional explicit device list (default ``jax.devices()``).
    Raises:
      ValueError: sizes that do not multiply to the device count, naming ``mesh.data``/``mesh.fsdp``.
    """
    devices = list(jax.devices() if devices is None else devices)
    n = len(devices)
    if data == -1 and fsdp == -1:
        raise ValueError("mesh.data and mesh.fsdp cannot both be -1")
    if data == -1:
        if fsdp <= 0 or n % fsdp:
            raise ValueError(f"mesh.fsdp={fsdp} does not divide the {n} devices")
        data = n // fsdp
    if fsdp == -1:
        if data <= 0 or n % data:
            raise ValueError(f"mesh.data={data} does not divide the {n} devices")
        fsdp = n // data
    if data <= 0 or fsdp <= 0 or data * fsdp != n:
        raise ValueError(f"mesh.data={data} x mesh.fsdp={fsdp} != {n} devices")
    auto = (jax.sharding.AxisType.Auto,) * 2
    if len(devices) == jax.device_count() and devices == list(jax.devices()):
        return jax.make_mesh((data, fsdp), MESH_AXES, axis_types=auto)
    return Mesh(np.asarray(devices).reshape(data, fsdp), MESH_AXES, axis_types=auto)


def mesh_from_config(mesh_config: Mapping[str, Any]) -> Mesh:
    """``make_mesh`` from a config section with integer fields ``data`` and ``fsdp``."""
    return make_mesh(int(mesh_config["data"]), int(mesh_config["fsdp"]))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over every device of the mesh."""
    return NamedSharding(mesh, P(BATCH_AXES))


def fsdp_spec(shape: tuple[int, ...], fsdp_size: int, min_shard_size: int = 2 ** 12) -> P:
    """PartitionSpec of one state leaf under the FSDP rule (see module docstring)."""
    if fsdp_size <= 1 or len(shape) == 0 or int(np.prod(shape)) < min_shard_size:
        return P()
    # Largest dimension first; ties broken towards the leading axis (the input dim of a kernel).
    for axis in sorted(range(len(shape)), key=lambda a: (-shape[a], a)):
        if shape[axis] % fsdp_size == 0:
            spec = [None] * len(shape)
            spec[axis] = FSDP_AXIS
            return P(*spec)
    return P()


def state_shardings(abstract_state: Any, mesh: Mesh, min_shard_size: int = 2 ** 12) -> Any:
    """NamedShardings for a pytree of arrays/ShapeDtypeStructs under the FSDP rule.

    Scalars and typed PRNG keys are replicated.
    """
    fsdp_size = mesh.shape[FSDP_AXIS]

    def one(leaf):
        shape = tuple(getattr(leaf, "shape", ()))
        dtype = getattr(leaf, "dtype", None)
        if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
            return replicated(mesh)
        return NamedSharding(mesh, fsdp_spec(shape, fsdp_size, min_shard_size))

    return jax.tree.map(one, abstract_state)


def local_batch_size(global_batch_size: int) -> int:
    """Rows this process feeds; the global batch must split evenly over processes."""
    n = jax.process_count()
    if global_batch_size % n:
        raise ValueError(f"data.batch_size={global_batch_size} is not divisible by the "
                         f"{n} processes")
    return global_batch_size // n


def shard_batch(local_batch: Any, mesh: Mesh) -> Any:
    """Turns this process's numpy rows into global arrays sharded over the batch axis.

    Every process passes its own ``local_batch`` (leaves with leading size B_local); the result
    has leading size ``B_local * process_count`` and lives on all devices of ``mesh``. Leaves of
    dimension 0 (per-batch scalars) must be equal on all processes and are replicated.
    """
    bsh = batch_sharding(mesh)
    rep = replicated(mesh)

    def one(x):
        x = np.asarray(x)
        if x.ndim == 0:
            return jax.make_array_from_process_local_data(rep, x)
        return jax.make_array_from_process_local_data(bsh, x)

    return jax.tree.map(one, local_batch)
