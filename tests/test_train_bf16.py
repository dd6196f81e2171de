"""`train.compute_dtype = "bfloat16"` on the real GENMO step: the denoiser's matmuls really run in
bf16 (not promoted back to f32 by f32 inputs), geometry and losses stay f32, master params /
grads / optimizer stay f32, and the loss is close to the f32 loss on the same batch."""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmo_jax.data import pipeline
from genmo_jax.train import genmo_task
from genmo_jax.train import state as state_lib
from genmo_jax.train import step as step_lib
from genmo_setup import small_genmo_config, write_procedural_shards

B, L, TEXT_DIM = 2, 12, 384


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = write_procedural_shards(tmp_path_factory.mktemp("proc"), 4)
    c = small_genmo_config(root, B, L)
    c.model.dropout = 0.0
    task = genmo_task.GenmoTask()
    task.setup(c)
    # Real pipeline rows; random caption states instead of MiniLM (not what is tested here).
    it = genmo_task.HostBatches(iter(pipeline.make_dataset(c, B, 0, 1)), None,
                                keys=genmo_task.batch_keys(c))
    batch = next(it)
    it.close()
    rng = np.random.default_rng(0)
    batch["text"] = (0.3 * rng.normal(size=(B, 4, 50, TEXT_DIM))).astype(np.float32)
    batch["text_windows"] = np.tile(np.array([[0, L], [0, L // 2], [0, 0], [0, 0]], np.int32),
                                    (B, 1, 1))
    tx = state_lib.make_optimizer(c.train)
    mdef, params, rest = state_lib.split_model(task.build_model(c))
    state = {"step": jnp.zeros((), jnp.int32), "params": params, "rest": rest,
             "opt_state": tx.init(params), "ema": params}
    batch = {k: jnp.asarray(v) for k, v in batch.items()}

    @functools.lru_cache(maxsize=None)
    def lowered(dtype):
        fn = step_lib.make_train_step(mdef, task.loss_fn, tx, compute_dtype=dtype)
        return jax.jit(fn).lower(state, batch, jax.random.key(1))

    return state, batch, lowered


def _dot_result_types(hlo: str) -> list[str]:
    return re.findall(r"stablehlo\.dot_general.*-> tensor<[0-9x]*x?(\w+)>", hlo)


def test_bf16_step_runs_the_network_matmuls_in_bf16(setup):
    _, _, lowered = setup
    f32 = _dot_result_types(lowered("float32").as_text())
    bf16 = _dot_result_types(lowered("bfloat16").as_text())
    assert f32 and set(f32) == {"f32"}                        # the f32 step: no bf16 dot
    assert set(bf16) == {"bf16", "f32"}
    # Same program, only types differ: every dot is either bf16 now or still f32 (geometry:
    # skinning, projections, rollout), and the network's matmuls (forward and backward of
    # ~40 layers) are the bf16 ones.
    assert len(bf16) == len(f32)
    assert bf16.count("bf16") >= 100, bf16.count("bf16")


@pytest.mark.slow   # compiles two GENMO steps: ~2 min on 2 shared cores
def test_bf16_step_loss_close_to_f32_and_state_stays_f32(setup):
    state, batch, lowered = setup
    out = {}
    for dtype in ("float32", "bfloat16"):
        fresh = jax.tree.map(jnp.copy, state)
        new_state, metrics = lowered(dtype).compile()(fresh, batch, jax.random.key(1))
        out[dtype] = (jax.device_get(new_state), jax.device_get(metrics))
    s16, m16 = out["bfloat16"]
    s32, m32 = out["float32"]
    for leaf in jax.tree.leaves({k: s16[k] for k in ("params", "opt_state", "ema")}):
        if jnp.issubdtype(leaf.dtype, jnp.floating):
            assert leaf.dtype == jnp.float32
    assert np.isfinite(m16["loss"]) and np.isfinite(m16["grad_norm"])
    np.testing.assert_allclose(m16["loss"], m32["loss"], rtol=5e-2)
    assert m16["loss"] != m32["loss"]                            # really computed in bf16
    np.testing.assert_allclose(m16["grad_norm"], m32["grad_norm"], rtol=0.2)
