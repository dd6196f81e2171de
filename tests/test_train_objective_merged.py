"""Without 2D-only data the objective runs estimation and generation as one 2B-row pass: same
terms and gradients as the two sequential passes (same keys, conditions, noise), about half
the program; a 2D-only sample in such a run is a clear error, never silently mis-trained."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genmo_jax.train import genmo_task, objective
from genmo_jax.train import state as state_lib
from genmo_setup import small_genmo_config, write_procedural_shards

B, L = 2, 12


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = write_procedural_shards(tmp_path_factory.mktemp("proc"), 4)
    c = small_genmo_config(root, B, L)
    c.model.dropout = 0.0               # the two paths draw dropout masks for different shapes
    c.model.text_blocks = False
    c.train.one_pass_modes = True          # opt-in (False in configs/tiny.py)
    task = genmo_task.GenmoTask()
    task.setup(c)
    it = task.make_iterator(c, B, 0, 1)
    batch = {k: jnp.asarray(v) for k, v in next(it).items()}
    it.close()
    mdef, params, rest = state_lib.split_model(task.build_model(c))
    return c, task, batch, mdef, params, rest


@pytest.mark.slow   # two compiles of the objective's value_and_grad: ~2 min on 2 shared cores
def test_one_pass_equals_two_passes(setup):
    c, task, batch, mdef, params, rest = setup
    assert task.spec.twod_rows is False          # opted in, procedural shards: a 3D-only kind
    assert "audio" not in batch                  # tiny has no audio encoder: not fed
    sequential = dataclasses.replace(task.spec, twod_rows=True)

    def terms_and_grads(spec):
        def total(p):
            terms = objective.genmo_terms(mdef.merge(p, rest), batch, jax.random.key(5), spec)
            return objective.weighted_total(terms, spec.weights), terms
        fn = jax.jit(jax.value_and_grad(total, has_aux=True))
        lowered = fn.lower(params)
        return lowered.as_text().count("stablehlo.dot_general"), lowered.compile()(params)

    dots_one, ((loss_one, terms_one), grads_one) = terms_and_grads(task.spec)
    dots_two, ((loss_two, terms_two), grads_two) = terms_and_grads(sequential)
    assert dots_one < 0.75 * dots_two, (dots_one, dots_two)
    assert terms_one.keys() == terms_two.keys() and len(terms_one) == 2 * len(objective.TERMS)
    for k in terms_one:
        np.testing.assert_allclose(terms_one[k], terms_two[k], rtol=2e-5, atol=1e-7, err_msg=k)
    assert float(loss_one) > 0
    jax.tree.map(lambda a, b: np.testing.assert_allclose(
        a, b, rtol=1e-3, atol=1e-5 * max(1.0, float(np.abs(b).max()))), grads_one, grads_two)


def test_2d_only_sample_in_a_one_pass_run_is_an_error():
    class Inner:
        def __next__(self):
            sample = {k: np.zeros((B,), np.float32) for k in genmo_task.BATCH_KEYS}
            sample["flag_2d_only"] = np.array([False, True])
            sample["dataset"] = np.array([0, 0], np.int32)
            return sample

    it = genmo_task.HostBatches(Inner(), None, keys=genmo_task.BATCH_KEYS, allow_2d_only=False)
    with pytest.raises(ValueError, match=r"2D-only sample came from config.data.datasets\[\[0\]\]"):
        next(it)
