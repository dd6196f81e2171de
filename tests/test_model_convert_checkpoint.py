"""Export folder round trip and the convert_checkpoint command (npz, safetensors, ckpt)."""

import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

import genmo_jax
from genmo_jax import convert_checkpoint, params_io
from genmo_jax.model import gem_compat, golden_check

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "golden",
                      "gem_denoiser_tiny.npz")
needs_golden = pytest.mark.skipif(not os.path.isfile(GOLDEN),
                                  reason=f"golden file not found at {GOLDEN} (../shared/golden)")


def _stats(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "stats.npz"
    np.savez(path, mean=rng.normal(size=151).astype(np.float32),
             std=rng.uniform(0.5, 2, 151).astype(np.float32))
    return path


def _config_file(tmp_path, golden):
    """A config file whose model section has the golden network's sizes."""
    meta = json.loads(bytes(golden["meta_json"]).decode())
    model = gem_compat.model_config_from_gem(meta["config"], window=meta["max_len"])
    model.velocity_convention = "gvhmr"
    path = tmp_path / "golden_config.py"
    path.write_text(
        "import json\nimport ml_collections\n\n\ndef get_config(arg=None):\n"
        "    c = ml_collections.ConfigDict()\n    c.seed = 1\n"
        f"    c.model = ml_collections.ConfigDict(json.loads({model.to_json()!r}))\n"
        "    return c\n")
    return path


def _golden_padded_outputs(model, golden):
    args, kwargs = golden_check.case_inputs(golden, "padded")
    graphdef, state = nnx.split(model)
    out = jax.jit(lambda s, a, k: nnx.merge(graphdef, s)(*a, **k))(state, args, kwargs)
    length = np.asarray(args[3])
    valid = np.arange(args[0].shape[1])[None, :] < length[:, None]
    return np.abs(np.asarray(out["x0"]) - golden["padded/out_pred_x_start"])[valid].max()


@needs_golden
@pytest.mark.parametrize("fmt", ["npz", "safetensors"])
def test_convert_state_dict_file_then_load_params(tmp_path, fmt):
    golden = np.load(GOLDEN)
    params = {k[len("param/"):]: golden[k] for k in golden.files if k.startswith("param/")}
    src = tmp_path / f"gem.{fmt}"
    if fmt == "npz":
        np.savez(src, **params)
    else:
        from safetensors.numpy import save_file
        save_file({k: np.ascontiguousarray(v) for k, v in params.items()}, str(src))
    out_dir = tmp_path / "export"
    rc = convert_checkpoint.main(["--gem", str(src), "--config", str(_config_file(tmp_path, golden)),
                                  "--out", str(out_dir), "--stats", str(_stats(tmp_path))])
    assert rc == 0
    assert sorted(os.listdir(out_dir)) == ["config.json", "params.safetensors", "stats.npz"]
    loaded = genmo_jax.load_params(str(out_dir))
    assert loaded.config.model.velocity_convention == "release"    # the switch is set
    assert loaded.config.seed == 1
    np.testing.assert_allclose(loaded.stats["mean"], np.load(_stats(tmp_path))["mean"])
    assert _golden_padded_outputs(loaded.model, golden) < 1e-4


@needs_golden
@pytest.mark.ref
def test_convert_lightning_ckpt(tmp_path):
    torch = pytest.importorskip("torch")
    golden = np.load(GOLDEN)
    state = {gem_compat.NETWORK_PREFIX + k[len("param/"):]: torch.from_numpy(golden[k])
             for k in golden.files if k.startswith("param/")}
    src = tmp_path / "gem.ckpt"
    torch.save({"state_dict": state, "epoch": 3}, src)
    out_dir = tmp_path / "export"
    assert convert_checkpoint.main(["--gem", str(src), "--config",
                                    str(_config_file(tmp_path, golden)), "--out", str(out_dir),
                                    "--stats", str(_stats(tmp_path))]) == 0
    assert _golden_padded_outputs(genmo_jax.load_params(str(out_dir)).model, golden) < 1e-4


def test_convert_errors_name_the_bad_input(tmp_path, capsys):
    stats = _stats(tmp_path)
    assert convert_checkpoint.main(["--gem", str(tmp_path / "missing.npz"), "--config",
                                    "configs/tiny.py", "--out", str(tmp_path / "o"),
                                    "--stats", str(stats)]) == 2
    assert "missing.npz" in capsys.readouterr().err
    bad = tmp_path / "weights.bin"
    bad.write_bytes(b"x")
    assert convert_checkpoint.main(["--gem", str(bad), "--config", "configs/tiny.py",
                                    "--out", str(tmp_path / "o"), "--stats", str(stats)]) == 2
    assert "unknown extension" in capsys.readouterr().err


def test_save_load_round_trip_and_missing_files(tmp_path):
    from configs import tiny
    from genmo_jax.model.denoiser import Denoiser
    config = tiny.get_config()
    config.model.latent_dim = 16
    config.model.num_layers = 1
    config.model.conditions = ("obs", "f_cliffcam")
    config.model.text_dim = 8
    model = Denoiser(config.model, rngs=nnx.Rngs(3))
    stats = {"mean": np.zeros(151, np.float32), "std": np.ones(151, np.float32)}
    params_io.save_params(str(tmp_path / "m"), model, config, stats)
    loaded = params_io.load_params(str(tmp_path / "m"), seed=99)
    a, b = params_io.flat_variables(model), params_io.flat_variables(loaded.model)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert tuple(loaded.config.model.conditions) == ("obs", "f_cliffcam")
    # a full nnx.State (with RNG counters) or a pure dict saves the same variables
    params_io.save_params(str(tmp_path / "s"), nnx.state(model), config, stats)
    c = params_io.flat_variables(params_io.load_params(str(tmp_path / "s")).model)
    assert c.keys() == a.keys() and all(np.array_equal(a[k], c[k]) for k in a)
    assert params_io.flat_variables(nnx.to_pure_dict(nnx.state(model, nnx.Param))).keys() <= a.keys()
    os.remove(tmp_path / "m" / "stats.npz")
    with pytest.raises(FileNotFoundError, match="stats.npz"):
        params_io.load_params(str(tmp_path / "m"))
    with pytest.raises(ValueError, match=r"\(151,\)"):
        params_io.save_params(str(tmp_path / "n"), model, config, {"mean": np.zeros(3),
                                                                   "std": np.ones(3)})
