"""Condition embedders: exists-flag MLPs replace features, CFG/empty variants, audio BatchNorm,
and (ref extra) parity with a torch transcription of the release's embedders."""

import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from genmo_jax import params_io
from genmo_jax.model import conditions as conditions_lib

DIM = 16
ALL = ("obs", "f_cliffcam", "f_imgseq", "f_cam_angvel", "encoded_music", "encoded_audio")
GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "golden",
                      "gem_denoiser_tiny.npz")


def _config(dim=DIM, image_dim=12, conditions=ALL):
    m = ml_collections.ConfigDict()
    m.latent_dim = dim
    m.dropout = 0.1
    m.conditions = conditions
    m.image_feature_dim = image_dim
    m.music_dim = 35
    return m


def _randomize(module, seed):
    rng = np.random.default_rng(seed)
    flat = {k: (rng.uniform(0.5, 1.5, v.shape) if k.endswith(".var")
                else 0.5 * rng.normal(size=v.shape)).astype(np.float32)
            for k, v in params_io.flat_variables(module).items()}
    params_io.assign_flat(module, flat)
    return flat


def _raw(rng, batch, num_frames, image_dim=12):
    obs = np.concatenate([rng.uniform(-1, 1, (batch, num_frames, 17, 2)),
                          rng.uniform(0, 1, (batch, num_frames, 17, 1))], -1).astype(np.float32)
    flag = lambda: rng.uniform(size=(batch, num_frames)) > 0.3
    return {"obs": obs,
            "f_cliffcam": rng.normal(size=(batch, num_frames, 3)).astype(np.float32),
            "f_imgseq": rng.normal(size=(batch, num_frames, image_dim)).astype(np.float32),
            "cam_angvel": rng.normal(size=(batch, num_frames, 6)).astype(np.float32),
            "music": rng.normal(size=(batch, num_frames, 35)).astype(np.float32),
            "audio": rng.normal(size=(batch, num_frames * 600)).astype(np.float32),
            "has_2d": flag(), "has_img": flag(), "has_cam": flag(), "has_music": flag(),
            "has_audio": flag()}


@pytest.fixture(scope="module")
def embedder():
    # every test here re-draws all variables, so skip the (compile-heavy) initialisers
    module = nnx.eval_shape(lambda: conditions_lib.ConditionEmbedder(
        _config(), rngs=nnx.Rngs(params=0, dropout=1)))
    _randomize(module, 100)
    nnx.reseed(module, params=0, dropout=1)       # concrete RNG streams for the abstract module
    graphdef, _ = nnx.split(module)

    def call(cond, deterministic=True):
        state = nnx.state(module)
        out, new_state = _jitted(graphdef, deterministic)(state, cond)
        nnx.update(module, new_state)
        return out
    return module, call


_CACHE = {}


def _jitted(graphdef, deterministic):
    key = (id(graphdef), deterministic)
    if key not in _CACHE:
        @jax.jit
        def fn(state, cond):
            m = nnx.merge(graphdef, state)
            out = m(cond, deterministic=deterministic)
            return out, nnx.state(m)
        _CACHE[key] = fn
    return _CACHE[key]


def test_exists_flag_replaces_the_feature(embedder):
    module, call = embedder
    _randomize(module, 0)
    rng = np.random.default_rng(1)
    cond = _raw(rng, 2, 4)
    for flag in ("has_2d", "has_img", "has_cam", "has_music", "has_audio"):
        cond[flag] = np.zeros((2, 4), bool)
    other = dict(cond, **{k: v for k, v in _raw(rng, 2, 4).items() if k != "obs" and
                          not k.startswith("has_")})
    a, b = call(cond), call(other)
    # absent everywhere: the features do not matter, and f_cond = obs + sum_k MLP_k([0, 0])
    np.testing.assert_allclose(np.asarray(a["f_cond"]), np.asarray(b["f_cond"]), atol=1e-5)
    empty_obs = dict(cond, obs=np.zeros_like(cond["obs"]))
    np.testing.assert_allclose(np.asarray(call(empty_obs)["f_cond"]), np.asarray(a["f_empty"]),
                               atol=1e-5)


def test_uncond_drops_music_and_audio_only(embedder):
    module, call = embedder
    _randomize(module, 2)
    rng = np.random.default_rng(3)
    cond = _raw(rng, 1, 4)
    out = call(cond)
    no_music_audio = dict(cond, has_music=np.zeros((1, 4), bool), has_audio=np.zeros((1, 4), bool))
    np.testing.assert_allclose(np.asarray(out["f_uncond"]),
                               np.asarray(call(no_music_audio)["f_cond"]), atol=1e-5)
    assert np.abs(np.asarray(out["f_uncond"]) - np.asarray(out["f_cond"])).max() > 1e-3


def test_audio_batchnorm_train_uses_batch_stats_eval_uses_running():
    block = conditions_lib.AudioBlock(1, 4, 5, dropout=0.0, rngs=nnx.Rngs(0))
    _randomize(block, 4)
    rng = np.random.default_rng(5)
    audio = jnp.asarray(rng.normal(size=(2, 60, 1)), jnp.float32)
    run = nnx.jit(lambda b, x, det: b(x, deterministic=det), static_argnums=2)
    mean0 = np.asarray(block.bn1.mean[...]).copy()
    var0 = np.asarray(block.bn1.var[...]).copy()
    eval_out = run(block, audio, True)            # eval: statistics untouched, used as is
    np.testing.assert_array_equal(np.asarray(block.bn1.mean[...]), mean0)
    conv = np.asarray(block.conv1(audio))         # (B, 12, 4)
    bn1_eval = (conv - mean0) / np.sqrt(var0 + 1e-5) * np.asarray(block.bn1.scale[...]) \
        + np.asarray(block.bn1.bias[...])
    np.testing.assert_allclose(np.asarray(block.bn1(jnp.asarray(conv), use_running_average=True)),
                               bn1_eval, atol=1e-5)
    assert eval_out.shape == (2, 12, 4)
    run(block, audio, False)                      # train: running averages move to the batch
    np.testing.assert_allclose(np.asarray(block.bn1.mean[...]),
                               0.9 * mean0 + 0.1 * conv.mean(axis=(0, 1)), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(block.bn1.var[...]),
                               0.9 * var0 + 0.1 * conv.var(axis=(0, 1)), rtol=1e-3, atol=1e-5)
    # train output normalises with the batch statistics: bn1(conv) has zero mean per channel
    normed = np.asarray(block.bn1(jnp.asarray(conv), use_running_average=False))
    scaled = (normed - np.asarray(block.bn1.bias[...])) / np.asarray(block.bn1.scale[...])
    np.testing.assert_allclose(scaled.mean(axis=(0, 1)), 0.0, atol=1e-4)


def test_wrong_audio_length_is_a_clear_error(embedder):
    _, call = embedder
    cond = _raw(np.random.default_rng(6), 1, 3)
    cond["audio"] = cond["audio"][:, :-1]
    with pytest.raises(ValueError, match="audio"):
        call(cond)


# ----------------------------------------------------------------------------------------------
# Reference: a torch transcription of the release's embedders (GEM.__init__ and
# create_condition_mask, eval mode), loaded through gem_compat with the golden network.


def _torch_gem_embedders(torch, dim, image_dim):
    nn = torch.nn

    class Mlp(nn.Module):                          # timm Mlp, exact GELU
        def __init__(self, i, h, o):
            super().__init__()
            self.fc1, self.act, self.fc2 = nn.Linear(i, h), nn.GELU(), nn.Linear(h, o)

        def forward(self, x):
            return self.fc2(self.act(self.fc1(x)))

    class BasicBlock(nn.Module):
        def __init__(self, i, o, k, s):
            super().__init__()
            self.conv1 = nn.Conv1d(i, o, k, stride=s, padding=k // 2)
            self.bn1 = nn.BatchNorm1d(o)
            self.act1 = nn.LeakyReLU()
            self.conv2 = nn.Conv1d(o, o, k, padding=k // 2)
            self.bn2 = nn.BatchNorm1d(o)
            self.act2 = nn.LeakyReLU()
            self.downsample = None
            if s != 1 or i != o:
                self.downsample = nn.Sequential(nn.Conv1d(i, o, k, stride=s, padding=k // 2),
                                                nn.BatchNorm1d(o))

        def forward(self, x):
            y = self.bn2(self.conv2(self.act1(self.bn1(self.conv1(x)))))
            return self.act2(y + (x if self.downsample is None else self.downsample(x)))

    def two_layer(i):
        return nn.Sequential(nn.Linear(i, dim), nn.SiLU(), nn.Dropout(0.1), nn.Linear(dim, dim))

    gem = nn.Module()
    gem.learned_pos_linear = nn.Linear(2, 32)
    gem.learned_pos_params = nn.Parameter(torch.randn(17, 32))
    gem.embed_noisyobs = Mlp(17 * 32, 2 * dim, dim)
    gem.cliffcam_embedder = two_layer(3)
    gem.imgseq_embedder = nn.Sequential(nn.LayerNorm(image_dim), nn.Linear(image_dim, dim))
    gem.cam_angvel_embedder = two_layer(6)
    gem.music_embedder = Mlp(35, 2 * dim, dim)
    gem.audio_encoder = nn.Sequential(*[BasicBlock(i, o, 15, s)
                                        for i, o, s in conditions_lib.AUDIO_BLOCKS])
    gem.audio_embedder = nn.Sequential(nn.LayerNorm(128), nn.Linear(128, dim))
    gem.cond_exists_embedder = nn.ModuleDict({
        k: nn.Sequential(nn.Linear(dim + 1, dim), nn.SiLU(), nn.Linear(dim, dim))
        for k in ALL[1:]})
    with torch.no_grad():
        for name, p in gem.named_parameters():   # re-draw the zero-initialised layers too
            p.copy_(0.3 * torch.randn_like(p))
        for name, b in gem.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.2 * torch.randn_like(b))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand_like(b))
    return gem.eval()


def _torch_fused(torch, gem, cond):
    t = {k: torch.as_tensor(np.asarray(v)) for k, v in cond.items()}
    obs = t["obs"].clone()
    visible = obs[..., [2]] > 0.5
    obs[~visible[..., 0]] = 0
    f_obs = gem.learned_pos_linear(obs[..., :2])
    batch, frames = obs.shape[:2]
    f_obs = f_obs * visible + gem.learned_pos_params.repeat(batch, frames, 1, 1) * ~visible
    f_obs = gem.embed_noisyobs(f_obs.reshape(batch, frames, -1))
    angvel = (t["cam_angvel"] - torch.tensor(conditions_lib.CAM_ANGVEL_MEAN)) / torch.tensor(
        conditions_lib.CAM_ANGVEL_STD)
    audio = gem.audio_encoder(t["audio"][:, None]).transpose(1, 2)
    feats = {"f_cliffcam": (gem.cliffcam_embedder(t["f_cliffcam"]), t["has_2d"]),
             "f_imgseq": (gem.imgseq_embedder(t["f_imgseq"]), t["has_img"]),
             "f_cam_angvel": (gem.cam_angvel_embedder(angvel), t["has_cam"]),
             "encoded_music": (gem.music_embedder(t["music"]), t["has_music"]),
             "encoded_audio": (gem.audio_embedder(audio), t["has_audio"])}
    f_cond, f_uncond, f_empty = f_obs, f_obs, gem.embed_noisyobs(
        gem.learned_pos_params.reshape(1, 1, -1))
    for key, (e, m) in feats.items():
        m = m[..., None].float()
        mlp = gem.cond_exists_embedder[key]
        cond_k = mlp(torch.cat([e * m, m], -1))
        absent = mlp(torch.cat([torch.zeros_like(e), torch.zeros_like(m)], -1))
        f_cond = f_cond + cond_k
        f_uncond = f_uncond + (absent if key in ("encoded_music", "encoded_audio") else cond_k)
        f_empty = f_empty + absent
    return {"f_cond": f_cond, "f_uncond": f_uncond, "f_empty": f_empty}


@pytest.mark.ref
def test_conditions_and_full_gem_state_dict_match_torch_release_transcription():
    torch = pytest.importorskip("torch")
    if not os.path.isfile(GOLDEN):
        pytest.skip(f"golden file not found at {GOLDEN}")
    import json

    from genmo_jax.model import gem_compat
    from genmo_jax.model.denoiser import Denoiser
    torch.manual_seed(0)
    golden = np.load(GOLDEN)
    meta = json.loads(bytes(golden["meta_json"]).decode())
    dim = meta["config"]["latent_dim"]
    gem = _torch_gem_embedders(torch, dim, 1024)
    state = {k: v.numpy() for k, v in gem.state_dict().items()}
    for k in golden.files:
        if k.startswith("param/"):
            state[gem_compat.NETWORK_PREFIX + k[len("param/"):]] = golden[k]
    state["pipeline.endecoder.mean"] = np.zeros(151, np.float32)       # ignored prefixes
    # legacy layout: a "model." prefix everywhere
    state = {"model." + k: v for k, v in state.items()}
    model_cfg = gem_compat.model_config_from_gem(meta["config"], conditions=ALL)
    model = Denoiser(model_cfg, rngs=nnx.Rngs(0))
    gem_compat.load_gem_state_dict(model, state)

    rng = np.random.default_rng(7)
    cond = _raw(rng, 2, 5, image_dim=1024)
    ours = jax.jit(lambda c: model.embed_conditions(c))(cond)
    with torch.no_grad():
        ref = _torch_fused(torch, gem, cond)
    for key in ("f_cond", "f_uncond", "f_empty"):
        np.testing.assert_allclose(np.asarray(ours[key]),
                                   np.broadcast_to(ref[key].numpy(), ours[key].shape),
                                   atol=2e-4, rtol=1e-4, err_msg=key)
