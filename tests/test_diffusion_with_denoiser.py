"""The sampler driving the real GENMO denoiser (random weights): guidance and estimation mode."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from genmo_jax import params_io
from genmo_jax.diffusion import sampler as smp
from genmo_jax.diffusion import schedule as sch
from genmo_jax.model.denoiser import MOTION_DIM, Denoiser

pytestmark = pytest.mark.slow


def _model():
    m = ml_collections.ConfigDict()
    m.latent_dim, m.num_layers, m.num_heads, m.mlp_ratio, m.dropout = 32, 2, 4, 2, 0.1
    m.attention_window, m.text_blocks, m.text_dim, m.max_text_len = 120, True, 24, 6
    m.conditions = ("obs", "f_imgseq", "encoded_music")
    m.image_feature_dim, m.music_dim = 16, 35
    model = Denoiser(m, rngs=nnx.Rngs(params=0, dropout=1))
    rng = np.random.default_rng(0)   # random values also for the zero-initialised gates
    flat = {name: (rng.uniform(0.5, 1.5, v.shape) if name.endswith(".var") else 0.1 * rng.normal(size=v.shape))
            .astype(np.float32) for name, v in params_io.flat_variables(model).items()}
    params_io.assign_flat(model, flat)
    return model


def test_guided_sampling_with_the_denoiser():
    model = _model()
    graphdef, state = nnx.split(model)
    length_frames = 40
    rng = np.random.default_rng(1)
    cond = {"obs": np.concatenate([rng.uniform(-1, 1, (1, length_frames, 17, 2)),
                                   np.ones((1, length_frames, 17, 1))], -1).astype(np.float32),
            "f_imgseq": rng.normal(size=(1, length_frames, 16)).astype(np.float32),
            "music": rng.normal(size=(1, length_frames, 35)).astype(np.float32)}
    text = rng.normal(size=(1, 6, 24)).astype(np.float32)
    x_T = jax.random.normal(jax.random.key(0), (1, length_frames, MOTION_DIM))
    timesteps = sch.ddim_timesteps(1000, 10)

    @jax.jit
    def run(state, scale):
        net = nnx.merge(graphdef, state)
        feats = net.embed_conditions(cond)
        pair = jnp.concatenate([feats["f_cond"], feats["f_uncond"]])
        text_pair = jnp.concatenate([text, jnp.zeros_like(text)])
        length = jnp.full((2,), length_frames)
        guided = smp.ddim_sample(lambda x, t: net(x, t, pair, length, text=text_pair), x_T,
                                 schedule=sch.cosine_schedule(), timesteps=timesteps, guidance_scale=scale)
        plain = smp.ddim_sample(lambda x, t: net(x, t, feats["f_cond"], length[:1], text=text), x_T,
                                schedule=sch.cosine_schedule(), timesteps=timesteps)
        est = smp.estimate(lambda x, t: net(x, t, feats["f_cond"], length[:1], text=text), x_T.shape)
        return guided, plain, est

    guided, plain, est = run(state, 1.0)
    for key in ("x0", "pred_cam", "contact_logits"):
        want = np.asarray(plain[key])
        np.testing.assert_allclose(np.asarray(guided[key]), want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
    strong, _, est_again = run(state, 2.5)
    assert np.abs(np.asarray(strong["x0"]) - np.asarray(plain["x0"])).max() > 1e-3
    np.testing.assert_array_equal(np.asarray(est["x0"]), np.asarray(est_again["x0"]))
    assert np.all(np.asarray(strong["pred_cam"])[..., 0] >= 0.25)
