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
