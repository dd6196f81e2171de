"""GEM state dict -> our params: golden parity of the release's network, and strict key checks."""

import io
import json
import os

import numpy as np
import pytest
from flax import nnx

from genmo_jax.model import gem_compat, golden_check
from genmo_jax.model.denoiser import Denoiser

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "golden",
                      "gem_denoiser_tiny.npz")
needs_golden = pytest.mark.skipif(not os.path.isfile(GOLDEN),
                                  reason=f"golden file not found at {GOLDEN} (../shared/golden)")


@pytest.fixture(scope="module")
def golden():
    return np.load(GOLDEN)


@pytest.fixture(scope="module")
def golden_params(golden):
    return {k[len("param/"):]: golden[k] for k in golden.files if k.startswith("param/")}


@pytest.fixture(scope="module")
def golden_model_cfg(golden):
    meta = json.loads(bytes(golden["meta_json"]).decode())
    return gem_compat.model_config_from_gem(meta["config"], window=meta["max_len"])


@needs_golden
def test_golden_check_passes_on_the_shared_file():
    out = io.StringIO()
    errors = golden_check.run(GOLDEN, out=out)
    assert set(errors) == {"padded", "long", "multitext", "keyframes"}
    for case, per_output in errors.items():
        assert len(per_output) == 4, case
        for name, err in per_output.items():
            assert err <= 1e-4, f"{case}/{name}: {err}"
    assert out.getvalue().count("max_abs_err") == 16


@needs_golden
def test_golden_check_fails_on_a_perturbed_weight(tmp_path, golden):
    # one case is enough here (each case is a compilation)
    data = {k: golden[k] for k in golden.files if not k.startswith(("long/", "multitext/",
                                                                     "keyframes/"))}
    assert golden_check.main([str(_save(tmp_path / "ok.npz", data))]) == 0
    data["param/blocks.1.mlp.fc2.bias"] = data["param/blocks.1.mlp.fc2.bias"] + 1e-2
    assert golden_check.main([str(_save(tmp_path / "perturbed.npz", data))]) == 1


def _save(path, data):
    np.savez(path, **data)
    return path


def test_missing_golden_file_is_a_clear_error(tmp_path, capsys):
    assert golden_check.main([str(tmp_path / "nope.npz")]) == 2
    assert "nope.npz" in capsys.readouterr().err


@needs_golden
def test_every_tensor_is_mapped_and_round_trips(golden_params, golden_model_cfg):
    flat = gem_compat.convert_state_dict(golden_params)
    model = Denoiser(golden_model_cfg, rngs=nnx.Rngs(0))
    from genmo_jax import params_io
    params_io.assign_flat(model, flat)
    ours = params_io.flat_variables(model)
    # spot-check each layout rule against the torch tensor
    np.testing.assert_array_equal(ours["blocks.0.attn.query.kernel"],
                                  golden_params["blocks.0.attn.query.weight"].T)
    np.testing.assert_array_equal(ours["blocks.2.gate_msa"],
                                  golden_params["blocks.2.gate_msa"].reshape(-1))
    packed = golden_params["text_encoder_layers.1.cross_attn.in_proj_weight"]
    d = packed.shape[1]
    for i, part in enumerate(("query", "key", "value")):
        np.testing.assert_array_equal(ours[f"text_blocks.1.cross_attn.{part}.kernel"],
                                      packed[i * d:(i + 1) * d].T)
        np.testing.assert_array_equal(
            ours[f"text_blocks.1.cross_attn.{part}.bias"],
            golden_params["text_encoder_layers.1.cross_attn.in_proj_bias"][i * d:(i + 1) * d])
    np.testing.assert_array_equal(ours["blocks.1.norm2.scale"],
                                  golden_params["blocks.1.norm2.weight"])
    np.testing.assert_array_equal(ours["embed_timestep.linear2.kernel"],
                                  golden_params["embed_timestep.time_embed.2.weight"].T)
    # number of scalars is preserved (q/k/v unpacking included)
    assert sum(v.size for v in flat.values()) == sum(v.size for v in golden_params.values())


@needs_golden
def test_unknown_missing_and_misshaped_keys_are_listed(golden_params, golden_model_cfg):
    with pytest.raises(ValueError, match=r"unknown keys 1: \['blocks.0.attn.extra'\]"):
        gem_compat.convert_state_dict(dict(golden_params, **{"blocks.0.attn.extra": np.zeros(3)}))
    model = Denoiser(golden_model_cfg, rngs=nnx.Rngs(0))
    partial = {k: v for k, v in golden_params.items() if k != "final_layer.fc2.bias"}
    with pytest.raises(ValueError, match=r"missing 1: \['final_layer.fc2.bias'\]"):
        gem_compat.load_gem_state_dict(model, partial)
    wrong = dict(golden_params, **{"add_cond_linear.bias": np.zeros(7, np.float32)})
    with pytest.raises(ValueError, match="shape mismatch 1: .*add_cond_linear.bias"):
        gem_compat.load_gem_state_dict(model, wrong)


@needs_golden
def test_fixed_tables_are_checked_and_ignored_prefixes_dropped(golden_params):
    from genmo_jax.model import embeddings
    dim = golden_params["add_cond_linear.bias"].shape[0]
    table = embeddings.sinusoid_table(5000, dim)[:, None, :]
    extra = {"sequence_pos_encoder.pe": table,
             "text_encoder_layers.0.motion_pos_encoder.pe": table,
             "pred_cam_mean": np.array([1.0606, -0.0027, 0.2702], np.float32),
             "endecoder.mean": np.zeros(151, np.float32),
             "model.smplx.shapedirs": np.zeros((2, 2), np.float32)}
    assert gem_compat.convert_state_dict(dict(golden_params, **extra)).keys() == \
        gem_compat.convert_state_dict(golden_params).keys()
    bad = dict(golden_params, **{"sequence_pos_encoder.pe": table + 0.1})
    with pytest.raises(ValueError, match="sinusoid table"):
        gem_compat.convert_state_dict(bad)


def test_legacy_network_copies_of_embedders():
    prefix = gem_compat.NETWORK_PREFIX
    w = np.ones((32, 2), np.float32)
    # only the network's copy: it is used
    remapped = gem_compat.remap_legacy({prefix + "learned_pos_linear.weight": w,
                                        prefix + "blocks.0.gate_msa": np.zeros((1, 1, 4))})
    assert "learned_pos_linear.weight" in remapped
    # both: the top-level one wins, the copy is dropped
    remapped = gem_compat.remap_legacy({prefix + "learned_pos_linear.weight": w,
                                        "learned_pos_linear.weight": 2 * w})
    assert list(remapped) == ["learned_pos_linear.weight"]
    np.testing.assert_array_equal(remapped["learned_pos_linear.weight"], 2 * w)


def test_unsupported_text_modes_are_errors():
    base = {"latent_dim": 8, "num_layers": 2, "num_heads": 2}
    with pytest.raises(ValueError, match="mode 'first'"):
        gem_compat.model_config_from_gem(dict(base, text_encoder_cfg={"mode": "first"}))
    with pytest.raises(ValueError, match="cross_attn_type"):
        gem_compat.model_config_from_gem(dict(base, text_encoder_cfg={"mode": "all"}))
    cfg = gem_compat.model_config_from_gem(dict(base, text_encoder_cfg={"mode": "none"}))
    assert not cfg.text_blocks
