"""The whole denoiser: zero-init behaviour, padding, caption windows, heads, gradients, dropout."""

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from flax import nnx

from genmo_jax import params_io
from genmo_jax.model import conditions as conditions_lib
from genmo_jax.model.denoiser import Denoiser

DIM, TEXT_DIM = 32, 24


def _config(**overrides):
    m = ml_collections.ConfigDict()
    m.latent_dim = DIM
    m.num_layers = 2
    m.num_heads = 4
    m.mlp_ratio = 2
    m.dropout = 0.1
    m.attention_window = 120
    m.text_blocks = True
    m.text_dim = TEXT_DIM
    m.max_text_len = 6
    m.conditions = ("obs", "f_cliffcam", "f_imgseq", "f_cam_angvel", "encoded_music",
                    "encoded_audio")
    m.image_feature_dim = 16
    m.music_dim = 35
    m.update(overrides)
    return m


def randomize(model, seed=0, scale=0.3):
    """Every variable (incl. zero-initialised gates/last layers) drawn at random."""
    rng = np.random.default_rng(seed)
    flat = {}
    for name, value in params_io.flat_variables(model).items():
        if name.endswith(".var"):
            flat[name] = rng.uniform(0.5, 1.5, value.shape).astype(np.float32)
        else:
            flat[name] = (scale * rng.normal(size=value.shape)).astype(np.float32)
    params_io.assign_flat(model, flat)
    return model


@pytest.fixture(scope="module")
def shared():
    """One model per module (building one compiles every initializer: slow on a busy CPU)."""
    model = Denoiser(_config(), rngs=nnx.Rngs(params=0, dropout=1))
    return model, params_io.flat_variables(model)


@pytest.fixture
def fresh(shared):
    """The shared model reset to its initial (zero-gated) values."""
    model, initial = shared
    params_io.assign_flat(model, initial)
    return model


def _jit_call(model, **static):
    graphdef, state = nnx.split(model)

    @jax.jit
    def call(args, kwargs):
        return nnx.merge(graphdef, state)(*args, **kwargs, **static)
    return lambda *args, **kwargs: call(args, kwargs)


def _raw_conditions(rng, batch, num_frames):
    return {
        "obs": np.concatenate([rng.uniform(-1, 1, (batch, num_frames, 17, 2)),
                               rng.uniform(0, 1, (batch, num_frames, 17, 1))], -1),
        "f_cliffcam": rng.normal(size=(batch, num_frames, 3)),
        "f_imgseq": rng.normal(size=(batch, num_frames, 16)),
        "cam_angvel": rng.normal(size=(batch, num_frames, 6)),
        "music": rng.normal(size=(batch, num_frames, 35)),
        "audio": rng.normal(size=(batch, num_frames * 600)),
        "has_2d": rng.uniform(size=(batch, num_frames)) > 0.3,
        "has_img": rng.uniform(size=(batch, num_frames)) > 0.3,
        "has_cam": rng.uniform(size=(batch, num_frames)) > 0.3,
        "has_music": rng.uniform(size=(batch, num_frames)) > 0.3,
        "has_audio": rng.uniform(size=(batch, num_frames)) > 0.3,
    }


def _inputs(rng, batch, num_frames):
    return (jnp.asarray(rng.normal(size=(batch, num_frames, 151)), jnp.float32),
            jnp.asarray(rng.integers(0, 1000, batch), jnp.int32),
            jnp.asarray(rng.normal(size=(batch, num_frames, DIM)), jnp.float32))


def test_zero_init_output_depends_only_on_keypoints(fresh):
    model = fresh
    rng = np.random.default_rng(0)
    batch, num_frames = 2, 8
    cond_a = _raw_conditions(rng, batch, num_frames)
    cond_b = _raw_conditions(rng, batch, num_frames)
    cond_b["obs"] = cond_a["obs"]
    x_t, t, _ = _inputs(rng, batch, num_frames)
    length = jnp.array([8, 5])
    embed = jax.jit(lambda c: nnx.merge(*nnx.split(model)).embed_conditions(c))
    call = _jit_call(model)

    def outputs(cond, text):
        f = embed(cond)["f_cond"]
        return call(x_t, t, f, length, text=jnp.asarray(text, jnp.float32))

    out_a = outputs(cond_a, rng.normal(size=(batch, 6, TEXT_DIM)))
    out_b = outputs(cond_b, rng.normal(size=(batch, 6, TEXT_DIM)))
    for key in out_a:
        np.testing.assert_allclose(np.asarray(out_a[key]), np.asarray(out_b[key]), atol=1e-6)
    cond_c = dict(cond_a, obs=_raw_conditions(rng, batch, num_frames)["obs"])
    out_c = outputs(cond_c, np.zeros((batch, 6, TEXT_DIM)))
    assert np.abs(np.asarray(out_c["x0"]) - np.asarray(out_a["x0"])).max() > 1e-4


@pytest.mark.parametrize("num_frames,lengths", [(60, (60, 37)), (150, (150, 131))])
def test_padding_frames_do_not_affect_valid_frames(num_frames, lengths, fresh):
    model = randomize(fresh, seed=1)
    call = _jit_call(model)
    rng = np.random.default_rng(2)
    x_t, t, f_cond = _inputs(rng, 2, num_frames)
    text = jnp.asarray(rng.normal(size=(2, 6, TEXT_DIM)), jnp.float32)
    length = jnp.asarray(lengths)
    pad = (np.arange(num_frames)[None, :] >= np.asarray(lengths)[:, None])[..., None]
    x_t2 = jnp.where(pad, 100.0, x_t)
    f_cond2 = jnp.where(pad, -50.0, f_cond)
    out1 = call(x_t, t, f_cond, length, text=text)
    out2 = call(x_t2, t, f_cond2, length, text=text)
    for key in out1:
        for b, n in enumerate(lengths):
            np.testing.assert_allclose(np.asarray(out1[key][b, :n]), np.asarray(out2[key][b, :n]),
                                       atol=2e-5, err_msg=key)


def test_caption_change_stays_inside_its_window_after_first_text_block(fresh):
    model = randomize(fresh, seed=3)
    rng = np.random.default_rng(4)
    x_t, t, f_cond = _inputs(rng, 1, 50)
    text = rng.normal(size=(1, 2, 6, TEXT_DIM)).astype(np.float32)
    windows = jnp.array([[[0, 20], [15, 35]]])
    graphdef, state = nnx.split(model)

    @jax.jit
    def after_first_text_block(text):
        m = nnx.merge(graphdef, state)
        temb = m.embed_timestep(t)[:, None]
        h = m.add_cond_linear(jnp.concatenate([f_cond + temb, x_t], -1))
        tokens, w = m._embed_text(text, 50, windows)
        return m.text_blocks[0](h, tokens, w)

    changed = text.copy()
    changed[:, 1] = rng.normal(size=changed[:, 1].shape)
    h_a = np.asarray(after_first_text_block(jnp.asarray(text)))
    h_b = np.asarray(after_first_text_block(jnp.asarray(changed)))
    inside = np.zeros(50, bool)
    inside[15:35] = True
    np.testing.assert_allclose(h_a[0, ~inside], h_b[0, ~inside], atol=1e-6)
    assert np.all(np.abs(h_a[0, inside] - h_b[0, inside]).max(-1) > 1e-5)


def test_heads_betas_mean_and_camera_scale_clamp(fresh):
    model = randomize(fresh, seed=5)
    flat = params_io.flat_variables(model)
    bias = flat["pred_cam_head.fc2.bias"].copy()
    bias[0] = -1e3                                   # s would be far below 0.25
    params_io.assign_flat(model, dict(flat, **{"pred_cam_head.fc2.bias": bias}))
    rng = np.random.default_rng(6)
    x_t, t, f_cond = _inputs(rng, 2, 30)
    out = _jit_call(model)(x_t, t, f_cond, jnp.array([30, 12]))
    np.testing.assert_array_equal(np.asarray(out["pred_cam"][..., 0]), 0.25)
    betas = np.asarray(out["x0"][..., 126:136])
    np.testing.assert_allclose(betas, np.broadcast_to(betas[:, :1], betas.shape), atol=1e-6)
    assert out["contact_logits"].shape == (2, 30, 6)
    assert out["hidden"].shape == (2, 30, DIM)


def test_keyframe_overwrite_before_the_stem(fresh):
    model = randomize(fresh, seed=7)
    call = _jit_call(model)
    rng = np.random.default_rng(8)
    x_t, t, f_cond = _inputs(rng, 1, 20)
    observed = jnp.asarray(rng.normal(size=(1, 20, 151)), jnp.float32)
    mask = np.zeros((1, 20, 151), np.float32)
    mask[:, [0, 10, 19], :148] = 1.0
    length = jnp.array([20])
    out = call(x_t, t, f_cond, length, observed_motion=observed, motion_mask=jnp.asarray(mask))
    manual = call(jnp.where(mask > 0, observed, x_t), t, f_cond, length)
    np.testing.assert_allclose(np.asarray(out["x0"]), np.asarray(manual["x0"]), atol=1e-6)


def test_gradients_finite_with_masked_rows_empty_windows_and_long_sequence(fresh):
    model = randomize(fresh, seed=9)
    rng = np.random.default_rng(10)
    x_t, t, f_cond = _inputs(rng, 2, 130)
    text = jnp.asarray(rng.normal(size=(2, 2, 6, TEXT_DIM)), jnp.float32)
    windows = jnp.array([[[5, 5], [0, 40]], [[0, 0], [0, 0]]])   # empty caption windows
    length = jnp.array([0, 17])                                   # all keys masked in sample 0
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    @jax.jit
    def grads(params):
        def loss(params):
            out = nnx.merge(graphdef, params, rest)(x_t, t, f_cond, length, text=text,
                                                    text_windows=windows)
            return sum(jnp.sum(v ** 2) for v in out.values())
        return jax.grad(loss)(params)

    g = grads(params)
    leaves = jax.tree_util.tree_leaves(g)
    assert leaves and all(np.all(np.isfinite(np.asarray(x))) for x in leaves)


@pytest.mark.slow   # two compilations with threefry dropout masks: ~20 s on a busy 2-core CPU
def test_dropout_only_when_not_deterministic(fresh):
    model = randomize(fresh, seed=11)
    rng = np.random.default_rng(12)
    x_t, t, f_cond = _inputs(rng, 1, 10)
    length = jnp.array([10])
    call = nnx.jit(lambda m, det: m(x_t, t, f_cond, length, deterministic=det)["x0"],
                   static_argnums=1)
    eval_a, eval_b = call(model, True), call(model, True)
    train_a, train_b = call(model, False), call(model, False)
    assert np.abs(np.asarray(train_a) - np.asarray(train_b)).max() > 1e-3   # fresh masks
    train = train_a
    np.testing.assert_array_equal(np.asarray(eval_a), np.asarray(eval_b))
    assert np.abs(np.asarray(train) - np.asarray(eval_a)).max() > 1e-3


def dot_dtypes(hlo_text: str) -> list[str]:
    """Result element types of every dot_general in a lowered (StableHLO) program."""
    import re
    return re.findall(r"stablehlo\.dot_general.*-> tensor<[0-9x]*x?(\w+)>", hlo_text)


def test_bfloat16_params_compute_in_bfloat16_and_return_float32(fresh):
    """Conditions + network with bf16 params: every matmul is bf16 (no f32 input promotes one
    back to f32), outputs are f32 and close to the f32 pass."""
    model = randomize(fresh, seed=13, scale=0.1)
    rng = np.random.default_rng(14)
    x_t, t, _ = _inputs(rng, 1, 20)
    cond = {k: jnp.asarray(v) for k, v in _raw_conditions(rng, 1, 20).items()}
    text = jnp.asarray(rng.normal(size=(1, 6, TEXT_DIM)), jnp.float32)
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)

    def run(p):
        m = nnx.merge(graphdef, p, rest)
        f_cond = m.embed_conditions(cond)["f_cond"]
        return m(x_t, t, f_cond, jnp.array([20]), text=text)

    ref_lowered = jax.jit(run).lower(params)
    assert set(dot_dtypes(ref_lowered.as_text())) == {"f32"}
    ref = ref_lowered.compile()(params)
    half = jax.tree.map(lambda p: p.astype(jnp.bfloat16), params)
    lowered = jax.jit(run).lower(half)
    dots = dot_dtypes(lowered.as_text())
    assert len(dots) > 20 and set(dots) == {"bf16"}, dots   # really computed in bfloat16
    out = lowered.compile()(half)
    for key in ref:
        assert out[key].dtype == jnp.float32
        scale = np.abs(np.asarray(ref[key])).max()
        assert np.abs(np.asarray(out[key]) - np.asarray(ref[key])).max() < 0.05 * scale + 0.05


def test_bad_shapes_are_clear_errors(fresh):
    model = fresh
    x_t = jnp.zeros((1, 5, 151))
    with pytest.raises(ValueError, match="text must be"):
        model(x_t, jnp.zeros(1, jnp.int32), jnp.zeros((1, 5, DIM)), jnp.array([5]),
              text=jnp.zeros((1, 6, TEXT_DIM + 1)))
    with pytest.raises(ValueError, match="f_cond"):
        model(x_t, jnp.zeros(1, jnp.int32), jnp.zeros((1, 5, DIM + 1)), jnp.array([5]))
    with pytest.raises(ValueError, match="unknown keys"):
        Denoiser(_config(conditions=("obs", "depth")), rngs=nnx.Rngs(0))


@pytest.mark.parametrize("remat,policy", [(False, None), (True, None),
                                          (True, jax.checkpoint_policies.dots_saveable)])
def test_scan_layers_matches_the_unrolled_loop(remat, policy):
    """The scan over stacked layer states = a Python loop over the layers: same outputs, same
    dropout masks (and new ones on a second call), same gradients, with or without remat."""
    from genmo_jax.model.denoiser import scan_layers
    from genmo_jax.model.layers import Mlp

    def make():
        rngs = nnx.Rngs(params=3, dropout=4)
        return [Mlp(8, 16, 8, approximate_gelu=True, dropout=0.3, rngs=rngs) for _ in range(3)]

    h = jnp.asarray(np.random.default_rng(0).normal(size=(2, 5, 8)), jnp.float32)

    def unrolled(layers, h, deterministic):
        for layer in layers:
            h = h + layer(h, deterministic=deterministic)
        return h

    def scanned(layers, h, deterministic):
        return scan_layers(layers, h, lambda m, x: x + m(x, deterministic=deterministic),
                           remat=remat, remat_policy=policy, update_state=not deterministic)

    loop, scan = make(), make()
    for _ in range(2):          # the second call must draw new masks in both
        a, b = unrolled(loop, h, False), scanned(scan, h, False)
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-6, atol=1e-6)
    assert np.abs(np.asarray(a) - np.asarray(unrolled(make(), h, False))).max() > 1e-3

    def loss(fn, layers):
        graphdef, params, rest = nnx.split(layers, nnx.Param, ...)
        return jax.grad(lambda p: (fn(nnx.merge(graphdef, p, rest), h, True) ** 2).sum())(params)

    g_loop, g_scan = loss(unrolled, make()), jax.jit(lambda: loss(scanned, make()))()
    for x, y in zip(jax.tree.leaves(g_loop), jax.tree.leaves(g_scan)):
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-5, atol=1e-6)
    assert len(jax.tree.leaves(g_loop)) == 12


def _count_primitive(jaxpr, name: str) -> int:
    """Equations of primitive `name` in a jaxpr, sub-jaxprs (scan, remat, ...) included."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)          # a ClosedJaxpr's own jaxpr
    count = 0
    for eqn in jaxpr.eqns:
        count += eqn.primitive.name == name
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                if hasattr(sub, "eqns") or hasattr(getattr(sub, "jaxpr", None), "eqns"):
                    count += _count_primitive(sub, name)
    return count


def test_a_remat_policy_stores_the_matmuls_instead_of_recomputing_them():
    """With `model.remat_policy = "dots_saveable"` the backward pass of the layer scan holds no
    recomputed matmul: the gradient program has exactly the matmuls of the un-rematerialised
    one, while plain remat adds one forward's worth."""
    rng = np.random.default_rng(3)
    x_t, t, f_cond = _inputs(rng, 2, 8)
    text = jnp.asarray(rng.normal(size=(2, 6, TEXT_DIM)), jnp.float32)

    def dots(**model_cfg):
        model = Denoiser(_config(**model_cfg), rngs=nnx.Rngs(0))
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)

        def loss(p):
            out = nnx.merge(graphdef, p, rest)(x_t, t, f_cond, jnp.array([8, 5]), text=text)
            return (out["x0"] ** 2).sum()
        return _count_primitive(jax.make_jaxpr(jax.grad(loss))(params), "dot_general")

    plain, full, saved = dots(), dots(remat=True), dots(remat=True, remat_policy="dots_saveable")
    assert full > plain and saved == plain, (plain, full, saved)


def test_the_train_state_stores_the_layers_stacked(fresh):
    """`state_lib.split_model` stacks `blocks` / `text_blocks` (one (N, ...) array per layer
    parameter, RNG counters included) and `ModelDef.merge` hands layer i its slice back."""
    from genmo_jax.train import state as state_lib

    model = randomize(fresh, seed=5)
    mdef, params, rest = state_lib.split_model(model)
    assert mdef.stacked == ("text_blocks", "blocks")
    kernel = params["blocks"]["attn"]["query"]["kernel"]
    assert kernel.shape == (2, DIM, DIM) and params["text_blocks"]["mlp"]["fc1"]["kernel"].shape[0] == 2
    np.testing.assert_array_equal(kernel[1], model.blocks[1].attn.query.kernel[...])
    assert rest["blocks"]["attn"]["dropout"]["rngs"]["count"].shape == (2,)
    before = params_io.flat_variables(model)
    merged = mdef.merge(params, rest)
    after = params_io.flat_variables(merged)
    assert after.keys() == before.keys()
    for name in before:
        np.testing.assert_array_equal(after[name], before[name], err_msg=name)
    bumped = jax.tree.map(lambda x: x, params)
    bumped["blocks"]["attn"]["query"]["kernel"] = kernel.at[1].add(1.0)
    moved = mdef.merge(bumped, rest)
    np.testing.assert_array_equal(moved.blocks[1].attn.query.kernel[...], kernel[1] + 1.0)
    np.testing.assert_array_equal(moved.blocks[0].attn.query.kernel[...], kernel[0])
    per_layer = dict(params, blocks={str(i): jax.tree.map(lambda x: x[i], params["blocks"]) for i in range(2)})
    with pytest.raises(ValueError, match="'blocks' holds one entry per layer"):
        mdef.merge(per_layer, rest)
