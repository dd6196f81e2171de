"""Mesh construction, the FSDP sharding rule and global batches on 8 simulated CPU devices."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from genmo_jax import parallel


def test_mesh_shapes_and_auto_axes():
    assert jax.device_count() == 8
    for data, fsdp, want in [(-1, 1, (8, 1)), (4, 2, (4, 2)), (-1, 4, (2, 4)), (2, -1, (2, 4))]:
        mesh = parallel.make_mesh(data, fsdp)
        assert tuple(mesh.shape.values()) == want
        assert mesh.axis_names == ("data", "fsdp")
        assert all(t == jax.sharding.AxisType.Auto for t in mesh.axis_types)
    one = parallel.make_mesh(1, 1, devices=jax.devices()[:1])
    assert one.devices.size == 1


@pytest.mark.parametrize("data,fsdp,key", [(3, 1, "mesh.data"), (-1, 3, "mesh.fsdp"),
                                           (-1, -1, "mesh.data"), (4, 4, "mesh.data")])
def test_mesh_rejects_bad_sizes(data, fsdp, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        parallel.make_mesh(data, fsdp)


def test_fsdp_spec_shards_large_matrices_only():
    assert parallel.fsdp_spec((512, 2048), 4) == P(None, "fsdp")    # largest dim
    assert parallel.fsdp_spec((2048, 512), 4) == P("fsdp", None)
    assert parallel.fsdp_spec((1024, 1024), 4) == P("fsdp", None)   # tie -> leading axis
    assert parallel.fsdp_spec((151, 1024), 4) == P(None, "fsdp")    # 151 does not divide
    assert parallel.fsdp_spec((151, 7), 4) == P()                    # nothing divides / small
    assert parallel.fsdp_spec((1024,), 4) == P()                     # below min_shard_size
    assert parallel.fsdp_spec((1024, 1024), 1) == P()                # no fsdp axis
    assert parallel.fsdp_spec((), 4) == P()


def test_state_shardings_every_large_leaf_sharded():
    mesh = parallel.make_mesh(2, 4)
    tree = {"w": jax.ShapeDtypeStruct((64, 256), jnp.float32),
            "b": jax.ShapeDtypeStruct((256,), jnp.float32),
            "step": jax.ShapeDtypeStruct((), jnp.int32),
            "key": jax.eval_shape(lambda: jax.random.key(0))}
    sh = parallel.state_shardings(tree, mesh, min_shard_size=1024)
    assert sh["w"].spec == P(None, "fsdp")
    assert sh["b"].spec == P()
    assert sh["step"].spec == P()
    assert sh["key"].spec == P()


def test_shard_batch_is_global_and_split_over_all_devices():
    mesh = parallel.make_mesh(4, 2)
    local = {"x": np.arange(16 * 3, dtype=np.float32).reshape(16, 3), "n": np.int32(5)}
    glob = parallel.shard_batch(local, mesh)
    assert glob["x"].shape == (16, 3)
    np.testing.assert_array_equal(np.asarray(glob["x"]), local["x"])
    assert glob["x"].sharding.spec == P(("data", "fsdp"))
    assert len({s.device for s in glob["x"].addressable_shards}) == 8
    assert all(s.data.shape == (2, 3) for s in glob["x"].addressable_shards)
    assert int(glob["n"]) == 5


def test_local_batch_size_single_process():
    assert parallel.local_batch_size(16) == 16


def test_no_distributed_init_without_env(monkeypatch):
    for k in ("JAX_COORDINATOR_ADDRESS", "SLURM_JOB_ID", "OMPI_COMM_WORLD_SIZE",
              "MEGASCALE_COORDINATOR_ADDRESS", "TPU_WORKER_HOSTNAMES"):
        monkeypatch.delenv(k, raising=False)
    assert parallel.maybe_initialize_distributed() is False
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert parallel.maybe_initialize_distributed() is False   # one-task job = one process
