"""Test session set-up: 8 simulated CPU devices and parsed absl flags, before anything imports jax."""

import os

# Multi-device code is tested on 8 simulated CPU devices; must be set before jax is imported.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_configure(config):
    # grain's mp_prefetch reads an absl flag; outside absl.app.run it must be marked parsed.
    from absl import flags

    flags.FLAGS.mark_as_parsed()


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def tiny_random_export(tmp_path_factory):
    """An export folder (params_io layout) of a randomly initialised, very small tiny-config
    denoiser: every sampling path runs on it without training. Its last layers are perturbed
    so that zero-initialised heads do not hide a broken path."""
    import numpy as np
    from flax import nnx

    from configs import tiny
    from genmo_jax import params_io
    from genmo_jax.model.denoiser import Denoiser

    config = tiny.get_config()
    config.model.latent_dim = 32
    config.model.num_layers = 1
    config.model.num_heads = 2
    model = Denoiser(config.model, rngs=nnx.Rngs(0))
    rng = np.random.default_rng(0)
    for _, var in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        value = np.asarray(var.get_value())
        var.set_value(value + 0.01 * rng.normal(size=value.shape).astype(value.dtype))
    stats = {"mean": rng.normal(scale=0.01, size=151).astype(np.float32), "std": np.ones(151, np.float32)}
    out = tmp_path_factory.mktemp("tiny_export")
    params_io.save_params(str(out), model, config, stats)
    return str(out)
