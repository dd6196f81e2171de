"""The train state: one pytree of plain arrays, born sharded on the mesh.

``TrainState`` = ``{"step": int32 (), "params": ..., "rest": ..., "opt_state": ..., "ema": ...}``
where ``params`` / ``rest`` are the pure-dict forms (``nnx.to_pure_dict``) of
``nnx.split(model, nnx.Param, ...)``: learnable parameters, and everything else a module holds
(BatchNorm statistics, RNG streams). The module structure (``graphdef``) is static and lives in
``ModelDef``. Plain nested dicts keep the checkpoint tree readable, make the exported names
(``a.b.kernel``) obvious, and are tree-mode safe (no Variables cross a jit boundary).
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

    def merge(self, params: Any, rest: Any) -> nnx.Module:
        p = _replace(self.abstract_params, params)
        r = _replace(self.abstract_rest, rest)
        return nnx.merge(self.graphdef, p, r)


def _replace(template: Any, pure: Any) -> Any:
    state = jax.tree.map(lambda x: x, template)   # fresh copy; replace_by_pure_dict mutates
    nnx.replace_by_pure_dict(state, pure)
    return state


def split_model(model: nnx.Module) -> tuple[ModelDef, dict, dict]:
    """(ModelDef, params, rest) with params/rest as pure nested dicts of arrays."""
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    mdef = ModelDef(graphdef, params, rest)
    return mdef, nnx.to_pure_dict(params), nnx.to_pure_dict(rest)


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
