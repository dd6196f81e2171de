"""genmo-jax: GENMO (one diffusion transformer for human motion estimation and generation) in JAX.

Submodules are imported lazily so that `import genmo_jax` stays cheap.
"""

__all__ = ["load_params"]


def load_params(directory, **kwargs):
    """Load an exported params folder (params.safetensors + config.json + stats.npz).

    Returns genmo_jax.params_io.ExportedParams(model, config, stats).
    """
    from genmo_jax import params_io
    return params_io.load_params(directory, **kwargs)
