"""`python -m genmo_jax.export`: the EMA params of a workdir's checkpoint -> a params folder."""

import jax
import numpy as np
from flax import nnx

from configs import tiny
from genmo_jax import export, load_params
from genmo_jax.model.denoiser import Denoiser
from genmo_jax.train import checkpoint as ckpt
from genmo_jax.train import state as state_lib


def _small_config():
    c = tiny.get_config()
    c.model.latent_dim = 32
    c.model.num_layers = 1
    c.model.num_heads = 2
    return c


def test_export_writes_the_ema_params_not_the_raw_ones(tmp_path):
    config = _small_config()
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "config.json").write_text(config.to_json_best_effort(indent=2))
    _, params, rest = state_lib.split_model(Denoiser(config.model, rngs=nnx.Rngs(0)))
    ema = jax.tree.map(lambda p: p + 1.0, params)  # distinguishable from the raw params
    state = {"step": np.int32(7), "params": params, "rest": rest, "opt_state": {}, "ema": ema}
    mngr = ckpt.make_manager(str(workdir / "checkpoints"), save_every=1, async_save=False)
    ckpt.save(mngr, 7, state, force=True)
    mngr.wait_until_finished()
    mngr.close()
    np.savez(workdir / "stats.npz", mean=np.zeros(151, np.float32), std=np.ones(151, np.float32))

    assert export.main(["--workdir", str(workdir), "--out", str(tmp_path / "export")]) == 0
    loaded = load_params(str(tmp_path / "export"))
    _, got, _ = state_lib.split_model(loaded.model)
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ema)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert loaded.config.model.latent_dim == 32


def test_export_errors_name_what_is_missing(tmp_path, capsys):
    assert export.main(["--workdir", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "config.json is missing" in capsys.readouterr().err
