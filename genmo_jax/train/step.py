"""The one pure train step: ``train_step(state, batch, rng) -> (state, metrics)``.

Everything a step does happens inside one jitted program with explicit shardings: per-step keys
(``fold_in(rng, step)``, so a resumed run draws exactly the same randomness), optional bf16
compute on f32 master params, optional gradient accumulation by ``lax.scan`` over micro-batches,
the optimizer (clipping + AdamW + schedule), and the EMA of the params. What the step optimises is
a ``loss_fn(model, batch, key) -> (loss, metrics)``; GENMO's dual-mode objective
(``genmo_jax.train.objective``) is one such function.
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from genmo_jax import parallel
from genmo_jax.train import state as state_lib

LossFn = Callable[[nnx.Module, Any, jax.Array], tuple[jax.Array, dict]]

_COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def _reseed(model: nnx.Module, key: jax.Array) -> None:
    """Every RNG stream of the model (dropout, ...) restarts from its own key split from ``key``
    (counter 0), so model randomness is a pure function of (seed, step) and independent of the
    saved state. One split for all streams: a fold_in per stream (``nnx.reseed``) put 93
    separate threefry hashes into the full-size step."""
    streams = [node for _, node in nnx.iter_graph(model) if isinstance(node, nnx.RngStream)]
    if not streams:
        return
    for stream, stream_key in zip(streams, jax.random.split(key, len(streams))):
        stream.key.set_value(stream_key)
        stream.count.set_value(jnp.zeros(stream_key.shape, jnp.uint32))


def _cast_floats(tree: Any, dtype) -> Any:
    return jax.tree.map(
        lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


def _split_micro(batch: Any, num_micro: int) -> Any:
    """(B, ...) -> (k, B/k, ...) with micro-batch j = rows j, j+k, j+2k, ...

    Reshaping to (B/k, k) keeps the batch sharding on the leading axis (each device's rows stay
    on it), so the split costs no communication.
    """
    def one(x):
        if x.ndim == 0 or x.shape[0] % num_micro:
            raise ValueError(f"batch leaf of shape {x.shape} does not split into "
                             f"train.grad_accum_steps={num_micro} micro-batches")
        x = x.reshape((x.shape[0] // num_micro, num_micro) + x.shape[1:])
        return jnp.swapaxes(x, 0, 1)
    return jax.tree.map(one, batch)


def make_train_step(mdef: state_lib.ModelDef, loss_fn: LossFn,
                    tx: optax.GradientTransformation, *, ema_decay: float = 0.999,
                    ema_warmup: bool = True, grad_accum_steps: int = 1,
                    compute_dtype: str = "float32",
                    schedule: optax.Schedule | None = None):
    """Builds ``train_step(state, batch, rng) -> (state, metrics)`` (pure; not jitted).

    Args:
      mdef: the static model structure (``state.ModelDef``).
      loss_fn: ``(model, batch, key) -> (scalar f32 loss, {name: scalar})``.
      tx: the optax transformation (``state.make_optimizer``).
      ema_decay, ema_warmup: EMA of params, updated after every optimizer step.
      grad_accum_steps: k micro-batches per step (the batch's leading axis must divide by k);
        gradients are averaged in f32, one optimizer update and one EMA update per step.
      compute_dtype: "float32" or "bfloat16"; params are cast for the forward/backward pass, the
        master copy, optimizer and gradients stay f32.
      schedule: optional learning-rate schedule, only to report ``lr`` in the metrics.
    """
    if compute_dtype not in _COMPUTE_DTYPES:
        raise ValueError(f"train.compute_dtype={compute_dtype!r}: expected one of "
                         f"{sorted(_COMPUTE_DTYPES)}")
    cdtype = _COMPUTE_DTYPES[compute_dtype]
    k = int(grad_accum_steps)
    if k < 1:
        raise ValueError(f"train.grad_accum_steps={k} must be >= 1")

    def micro_loss(params, rest, batch, key):
        model = mdef.merge(_cast_floats(params, cdtype) if cdtype != jnp.float32 else params,
                           rest)
        _reseed(model, jax.random.fold_in(key, 1))
        loss, metrics = loss_fn(model, batch, jax.random.fold_in(key, 2))
        _, _, new_rest = state_lib.split_model(model)
        # BatchNorm statistics etc. keep their stored dtype whatever the compute dtype was.
        new_rest = jax.tree.map(lambda n, o: n.astype(o.dtype), new_rest, rest)
        return loss.astype(jnp.float32), (metrics, new_rest)

    grad_fn = jax.value_and_grad(micro_loss, has_aux=True)

    def train_step(state, batch, rng):
        step = state["step"]
        key = jax.random.fold_in(rng, step)
        params = state["params"]
        if k == 1:
            (loss, (metrics, rest)), grads = grad_fn(params, state["rest"], batch, key)
        else:
            micro = _split_micro(batch, k)
            zeros = jax.tree.map(lambda p: jnp.zeros(p.shape, jnp.float32), params)

            def body(carry, inputs):
                g_sum, rest = carry
                mb, i = inputs
                (l, (m, rest)), g = grad_fn(params, rest, mb, jax.random.fold_in(key, i))
                g_sum = jax.tree.map(lambda a, b: a + b.astype(jnp.float32), g_sum, g)
                return (g_sum, rest), (l, m)

            (g_sum, rest), (losses, ms) = jax.lax.scan(
                body, (zeros, state["rest"]), (micro, jnp.arange(k)))
            grads = jax.tree.map(lambda g: g / k, g_sum)
            loss = jnp.mean(losses)
            metrics = jax.tree.map(jnp.mean, ms)
        grads = jax.tree.map(lambda g, p: g.astype(p.dtype), grads, params)
        updates, opt_state = tx.update(grads, state["opt_state"], params)
        new_params = optax.apply_updates(params, updates)
        new_step = step + 1
        d = ema_decay_fn(new_step)
        ema = jax.tree.map(lambda e, p: d * e + (1.0 - d) * p, state["ema"], new_params)
        out = dict(metrics)
        out["loss"] = loss
        out["grad_norm"] = optax.global_norm(grads)
        out["param_norm"] = optax.global_norm(new_params)
        if schedule is not None:
            out["lr"] = jnp.asarray(schedule(step), jnp.float32)
        new_state = {"step": new_step, "params": new_params, "rest": rest,
                     "opt_state": opt_state, "ema": ema}
        return new_state, out

    def ema_decay_fn(s):
        return state_lib.ema_decay(s, ema_decay, ema_warmup)

    return train_step


def jit_train_step(train_step, state_shardings: Any, mesh):
    """``jax.jit`` with explicit shardings: state as given (FSDP), batch split over all devices,
    key and metrics replicated; the old state is donated (updated in place)."""
    rep = parallel.replicated(mesh)
    return jax.jit(train_step,
                   in_shardings=(state_shardings, parallel.batch_sharding(mesh), rep),
                   out_shardings=(state_shardings, rep),
                   donate_argnums=0)
