"""Orbax checkpoints: round trip with the data iterator, restore onto another mesh, clear errors
for missing/corrupt checkpoints, and a crash mid-save keeping the previous good checkpoint."""

import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import train_toy
from genmo_jax import parallel
from genmo_jax.train import checkpoint as ckpt
from genmo_jax.train import state as state_lib


def _np(a):
    if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
        a = jax.random.key_data(a)
    return np.asarray(a)


def _state(mesh):
    config = train_toy.get_config()
    task = train_toy.ToyTask()
    tx = state_lib.make_optimizer(config.train)
    _, state, shardings = state_lib.init_state(lambda: task.build_model(config), tx, mesh,
                                               min_shard_size=256)
    return config, task, state, shardings


def test_round_trip_onto_another_mesh_with_iterator(tmp_path):
    config, task, state, _ = _state(parallel.make_mesh(8, 1))
    it = task.make_iterator(config, 16, 0, 1)
    next(it), next(it)
    mngr = ckpt.make_manager(str(tmp_path / "ck"), save_every=1, keep=2)
    assert ckpt.save(mngr, 5, state, it)
    mngr.wait_until_finished()
    expected_next = next(it)

    _, _, state_b, shardings_b = _state(parallel.make_mesh(2, 4))
    abstract = state_lib.abstract_state_like(shardings_b, jax.eval_shape(lambda: state_b))
    it2 = task.make_iterator(config, 16, 0, 1)
    mngr2 = ckpt.make_manager(str(tmp_path / "ck"), save_every=1, keep=2)
    step, restored = ckpt.restore(mngr2, abstract, it2)
    assert step == 5
    jax.tree.map(lambda a, b: np.testing.assert_array_equal(_np(a), _np(b)), restored, state)
    kernel = restored["params"]["hidden"]["kernel"]
    assert kernel.sharding.spec == jax.sharding.PartitionSpec("fsdp", None)
    assert kernel.sharding.mesh.shape["fsdp"] == 4
    np.testing.assert_array_equal(next(it2)["x"], expected_next["x"])
    mngr.close()
    mngr2.close()


def test_missing_and_corrupt_checkpoints_give_clear_errors(tmp_path):
    _, _, state, shardings = _state(parallel.make_mesh(8, 1))
    abstract = state_lib.abstract_state_like(shardings, jax.eval_shape(lambda: state))
    empty = ckpt.make_manager(str(tmp_path / "empty"), save_every=1, with_data=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint found"):
        ckpt.restore(empty, abstract)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(FileNotFoundError, match="is a file"):
        ckpt.make_manager(str(tmp_path / "afile"), save_every=1)

    mngr = ckpt.make_manager(str(tmp_path / "ck"), save_every=1, with_data=False)
    ckpt.save(mngr, 3, state)
    mngr.wait_until_finished()
    mngr.close()
    state_dir = tmp_path / "ck" / "3" / "state"
    for root, _, files in os.walk(state_dir):     # corrupt: remove the array data
        for f in files:
            if f != "_METADATA" and not f.startswith("_CHECKPOINT"):
                os.remove(os.path.join(root, f))
    mngr = ckpt.make_manager(str(tmp_path / "ck"), save_every=1, with_data=False)
    with pytest.raises(ckpt.CheckpointError, match=str(tmp_path / "ck" / "3")):
        ckpt.restore(mngr, abstract)
    mngr.close()


_CRASH_SCRIPT = textwrap.dedent("""
    import os, sys
    import jax, jax.numpy as jnp
    from genmo_jax.train import checkpoint as ckpt
    mngr = ckpt.make_manager(sys.argv[1], save_every=1, keep=1, with_data=False)
    ckpt.save(mngr, 1, {"w": jnp.ones((4, 4))})
    mngr.wait_until_finished()
    big = {"w": jnp.full((8192, 4096), 2.0)}       # 128 MiB: the async write is still running
    ckpt.save(mngr, 2, big)
    os._exit(0)                                    # crash before step 2 is committed
""")


def test_crash_during_save_keeps_previous_checkpoint(tmp_path):
    directory = str(tmp_path / "ck")
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    subprocess.run([sys.executable, "-c", _CRASH_SCRIPT, directory], check=True, env=env,
                   timeout=120)
    mngr = ckpt.make_manager(directory, save_every=1, keep=1, with_data=False)
    assert mngr.latest_step() == 1
    abstract = {"w": jax.ShapeDtypeStruct((4, 4), np.float32,
                                          sharding=parallel.replicated(parallel.make_mesh()))}
    step, restored = ckpt.restore(mngr, abstract)
    assert step == 1
    np.testing.assert_array_equal(np.asarray(restored["w"]), 1.0)
    mngr.close()
