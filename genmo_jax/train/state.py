"""The train state: one pytree of plain arrays, born sharded on the mesh.

``TrainState`` = ``{"step": int32 (), "params": ..., "rest": ..., "opt_state": ..., "ema": ...}``
where ``params`` / ``rest`` are the pure-dict forms (``nnx.to_pure_dict``) of
``nnx.split(model, nnx.Param, ...)``: learnable parameters, and everything else a module holds
(BatchNorm statistics, RNG streams), with the model's layer lists stacked (``split_model``).
The module structure (``graphdef``) is static and lives in ``ModelDef``. Plain nested dicts keep
the checkpoint tree readable, make the exported names (``a.b.kernel``) obvious, and are
tree-mode safe (no Variables cross a jit boundary).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from genmo_jax import parallel

TrainState = dict


@dataclasses.dataclass(frozen=True)
class ModelDef:
    """Static structure of the model: rebuild a module from pure-dict params and rest."""

    graphdef: Any
    abstract_params: Any   # nnx.State templates used to turn pure dicts back into States
    abstract_rest: Any
    stacked: tuple = ()    # top-level layer lists stored stacked (see ``split_model``)

    def merge(self, params: Any, rest: Any) -> nnx.Module:
        p = _replace(self.abstract_params, unstack_layers(params, self.stacked))
        r = _replace(self.abstract_rest, unstack_layers(rest, self.stacked))
        return nnx.merge(self.graphdef, p, r)


def _replace(template: Any, pure: Any) -> Any:
    state = jax.tree.map(lambda x: x, template)   # fresh copy; replace_by_pure_dict mutates
    nnx.replace_by_pure_dict(state, pure)
    return state


def stack_layers(pure: dict, names: tuple) -> dict:
    """{name: {0: tree, 1: tree, ...}} -> {name: tree of (N, ...) arrays} for each name."""
    out = dict(pure)
    for name in names:
        if name in out:
            layers = out[name]
            out[name] = jax.tree.map(_stack, *(layers[i] for i in range(len(layers))))
    return out


def _stack(*xs):
    if isinstance(xs[0], jax.ShapeDtypeStruct):     # abstract models (nnx.eval_shape)
        return jax.ShapeDtypeStruct((len(xs),) + xs[0].shape, xs[0].dtype)
    return jnp.stack(xs)


def _take(x, i):
    if isinstance(x, jax.ShapeDtypeStruct):
        return jax.ShapeDtypeStruct(x.shape[1:], x.dtype)
    return x[i]


def unstack_layers(pure: dict, names: tuple) -> dict:
    """The inverse of ``stack_layers``."""
    out = dict(pure)
    for name in names:
        if name in out:
            if set(map(str, out[name])) == {str(i) for i in range(len(out[name]))}:
                raise ValueError(f"'{name}' holds one entry per layer, not the stacked layout of "
                                 f"train/state.split_model (a train state written before "
                                 f"2026-11-27?): it cannot be used with this version")
            count = jax.tree.leaves(out[name])[0].shape[0]
            out[name] = {i: jax.tree.map(lambda x: _take(x, i), out[name]) for i in range(count)}
    return out


def split_model(model: nnx.Module) -> tuple[ModelDef, dict, dict]:
    """(ModelDef, params, rest) with params/rest as pure nested dicts of arrays.

    The model's ``stacked_layers`` (top-level lists of identical layers, e.g. the denoiser's
    ``blocks``) are stored stacked, one (N, ...) array per parameter of a layer: the optimizer,
    the EMA and the checkpoint then handle 36 arrays instead of 576 at full size (one XLA
    kernel per array and update: half the full step's kernels were the optimizer's), and the
    layer scan gets its stack as is. ``ModelDef.merge`` gives the module its layers back.
    """
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    stacked = tuple(getattr(model, "stacked_layers", ()))
    mdef = ModelDef(graphdef, params, rest, stacked)
    return (mdef, stack_layers(nnx.to_pure_dict(params), stacked),
            stack_layers(nnx.to_pure_dict(rest), stacked))


def learning_rate_schedule(train_cfg) -> optax.Schedule:
    """Linear warm-up then either constant with halvings at ``lr_milestones`` (SPEC B 4.3,
    MultiStepLR x ``lr_decay_factor``) or cosine decay to ``lr * lr_end_factor``."""
    lr = float(train_cfg.lr)
    warmup = int(train_cfg.warmup_steps)
    kind = str(train_cfg.schedule)
    if kind == "multistep":
        boundaries = {int(m): float(train_cfg.lr_decay_factor) for m in train_cfg.lr_milestones}
        main = optax.piecewise_constant_schedule(lr, boundaries)
    elif kind == "cosine":
        main = optax.cosine_decay_schedule(lr, max(1, int(train_cfg.num_steps) - warmup),
                                           alpha=float(train_cfg.lr_end_factor))
    elif kind == "constant":
        main = optax.constant_schedule(lr)
    else:
        raise ValueError(f"train.schedule={kind!r}: expected 'multistep', 'cosine' or 'constant'")
    if warmup <= 0:
        return main
    # Step 0 already gets lr / warmup (a zero first step would be wasted).
    return optax.join_schedules([optax.linear_schedule(lr / warmup, lr, warmup), main], [warmup])


def make_optimizer(train_cfg) -> optax.GradientTransformation:
    """Global-norm clipping then AdamW (PyTorch defaults as in SPEC B 4.3: decay on every param)."""
    return optax.chain(
        optax.clip_by_global_norm(float(train_cfg.grad_clip)),
        optax.adamw(learning_rate_schedule(train_cfg), b1=float(train_cfg.b1),
                    b2=float(train_cfg.b2), eps=float(train_cfg.eps),
                    weight_decay=float(train_cfg.weight_decay)),
    )


def ema_decay(step: jax.Array, decay: float, warmup: bool = True) -> jax.Array:
    """EMA decay at optimizer step ``step`` (after the update): ``min(decay, (1+s)/(10+s))``
    with warm-up, so early EMA weights are not dominated by the random init."""
    step = step.astype(jnp.float32)
    if not warmup:
        return jnp.asarray(decay, jnp.float32)
    return jnp.minimum(jnp.float32(decay), (1.0 + step) / (10.0 + step))


def init_state(build_model: Callable[[], nnx.Module], tx: optax.GradientTransformation,
               mesh, min_shard_size: int = 2 ** 12) -> tuple[ModelDef, TrainState, Any]:
    """Builds the model and optimizer state directly on the mesh (inside jit, so every shard is
    born on its device; no host copy of the full model).

    Args:
      build_model: () -> nnx.Module, deterministic (seeded ``nnx.Rngs`` inside).
      tx: the optax transformation.
      mesh: a ``parallel.make_mesh`` mesh.
    Returns:
      (model_def, state, state_shardings).
    """
    abstract_model = nnx.eval_shape(build_model)
    mdef, _, _ = split_model(abstract_model)

    def init():
        _, params, rest = split_model(build_model())
        return {"step": jnp.zeros((), jnp.int32), "params": params, "rest": rest,
                "opt_state": tx.init(params), "ema": jax.tree.map(jnp.copy, params)}

    abstract_state = jax.eval_shape(init)
    shardings = parallel.state_shardings(abstract_state, mesh, min_shard_size)
    with jax.set_mesh(mesh):
        state = jax.jit(init, out_shardings=shardings)()
    return mdef, state, shardings


def abstract_state_like(state_shardings: Any, abstract_state: Any) -> Any:
    """ShapeDtypeStructs carrying the target shardings: the restore target for orbax."""
    return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
                        abstract_state, state_shardings)


def param_count(params: Any) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))
