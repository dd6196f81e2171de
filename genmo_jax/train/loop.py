"""The training loop: build mesh, state, step and data; resume; step, log, evaluate, checkpoint.

``run(config, workdir)`` trains until ``config.train.num_steps`` optimizer steps in total have
been taken in ``workdir``: a rerun on the same workdir restores the latest checkpoint (state and
data iterator) and continues to the same total. All processes run the same sequence of jitted
calls; only process 0 writes metrics and shows the progress bar.

A *task* supplies what is trained (see ``Task``): ``train.task = "genmo"`` is GENMO's dual-mode
objective on the Grain pipeline; ``"package.module:Class"`` loads any other task (tests use a
small one).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import sys
import time
from typing import Any, Protocol

import jax
import numpy as np

from genmo_jax import parallel
from genmo_jax.train import checkpoint as ckpt
from genmo_jax.train import config as config_lib
from genmo_jax.train import metrics as metrics_lib
from genmo_jax.train import state as state_lib
from genmo_jax.train import step as step_lib


class Task(Protocol):
    def build_model(self, config) -> Any: ...
    def loss_fn(self, model, batch, key) -> tuple[Any, dict]: ...
    def make_iterator(self, config, local_batch_size: int, process_index: int,
                      process_count: int) -> Any: ...
    # Optional: evaluate(model, step) -> {name: float}, run on every process.


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; the message names the step and the last good checkpoint."""


@dataclasses.dataclass
class RunResult:
    step: int                  # optimizer steps taken in total in this workdir
    preempted: bool
    last_metrics: dict
    state: Any = None


def get_task(name: str) -> Task:
    """``"genmo"`` or ``"module:Class"``; raises ValueError naming ``train.task``."""
    if name == "genmo":
        from genmo_jax.train import genmo_task
        return genmo_task.GenmoTask()
    if ":" not in name:
        raise ValueError(f"train.task={name!r}: expected 'genmo' or 'module:Class'")
    mod, attr = name.split(":", 1)
    try:
        return getattr(importlib.import_module(mod), attr)()
    except (ImportError, AttributeError) as e:
        raise ValueError(f"train.task={name!r} cannot be loaded: {e}") from e


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True,
                desc="train")


def run(config, workdir: str, task: Task | None = None) -> RunResult:
    """Trains to ``config.train.num_steps`` total steps in ``workdir`` (resuming if possible)."""
    tc = config.train
    config_lib.validate(config, jax.device_count(), jax.process_count())
    task = task or get_task(tc.task)
    if hasattr(task, "setup"):
        task.setup(config)      # loads what the loss closes over (body model, statistics, ...)
    workdir = os.path.abspath(workdir)
    is_main = jax.process_index() == 0
    if is_main:
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "config.json"), "w", encoding="utf-8") as f:
            f.write(config.to_json_best_effort(indent=2))

    if bool(tc.get("compile_cache", False)) and "://" not in workdir:
        # Resumes (preemption, a raised num_steps) skip the compile of the step.
        jax.config.update("jax_compilation_cache_dir", os.path.join(workdir, "xla_cache"))
    mesh = parallel.make_mesh(int(config.mesh.data), int(config.mesh.fsdp))
    tx = state_lib.make_optimizer(tc)
    schedule = state_lib.learning_rate_schedule(tc)
    mdef, state, shardings = state_lib.init_state(
        lambda: task.build_model(config), tx, mesh, int(config.mesh.min_shard_size))
    if is_main:
        print(f"model: {state_lib.param_count(state['params']):,} params; mesh "
              f"{dict(mesh.shape)}; {jax.process_count()} process(es)", file=sys.stderr)
    train_step = step_lib.make_train_step(
        mdef, task.loss_fn, tx, ema_decay=float(tc.ema_decay), ema_warmup=bool(tc.ema_warmup),
        grad_accum_steps=int(tc.grad_accum_steps), compute_dtype=str(tc.compute_dtype),
        schedule=schedule)
    jitted = step_lib.jit_train_step(train_step, shardings, mesh)

    global_bs = int(config.data.batch_size)
    local_bs = parallel.local_batch_size(global_bs)
    data_it = task.make_iterator(config, local_bs, jax.process_index(), jax.process_count())
    mngr = ckpt.make_manager(os.path.join(workdir, "checkpoints"),
                             save_every=int(config.checkpoint.save_every),
                             keep=int(config.checkpoint.keep),
                             keep_every=int(config.checkpoint.keep_every),
                             async_save=bool(config.checkpoint.async_save))
    step = 0
    if mngr.latest_step() is not None:
        abstract = state_lib.abstract_state_like(shardings, jax.eval_shape(lambda: state))
        step, state = ckpt.restore(mngr, abstract, data_it)
        if is_main:
            print(f"resumed from {mngr.directory} at step {step}", file=sys.stderr)
    num_steps = int(tc.num_steps)
    # Made inside jit: a multi-host replicated array cannot be device_put from one host.
    rng = jax.jit(lambda: jax.random.key(int(config.seed)),
                  out_shardings=parallel.replicated(mesh))()
    writer = metrics_lib.MetricWriter(workdir)
    flag = ckpt.PreemptionFlag()
    bar = _progress(num_steps, step, is_main and bool(tc.progress_bar))
    last = {}
    preempted = False
    t_last, step_last = time.perf_counter(), step
    try:
        with jax.set_mesh(mesh):
            if step == 0:
                ckpt.save(mngr, 0, state, data_it)
            while step < num_steps:
                batch = parallel.shard_batch(next(data_it), mesh)
                state, metrics = jitted(state, batch, rng)
                step += 1
                due_log = step % int(tc.log_every) == 0 or step == num_steps
                due_save = mngr.should_save(step) or step == num_steps
                stop = ckpt.should_stop_for_preemption(mngr, step, flag)
                if due_log or due_save or stop:
                    last = {k: float(v) for k, v in jax.device_get(metrics).items()}
                    if not math.isfinite(last["loss"]):
                        mngr.wait_until_finished()
                        raise TrainingDiverged(
                            f"loss is {last['loss']} at step {step}; stopped without saving "
                            f"it. Last good checkpoint: step {mngr.latest_step()} in "
                            f"{mngr.directory}")
                if due_log:
                    now = time.perf_counter()
                    rate = (step - step_last) / max(now - t_last, 1e-9)
                    t_last, step_last = now, step
                    last["steps_per_s"] = rate
                    last["samples_per_s"] = rate * global_bs
                    writer.write(step, last)
                    if bar is not None:
                        bar.set_postfix(loss=f"{last['loss']:.4g}", steps_s=f"{rate:.2f}",
                                        samples_s=f"{rate * global_bs:.1f}")
                if bar is not None:
                    bar.update(1)
                if int(tc.eval_every) and step % int(tc.eval_every) == 0 \
                        and hasattr(task, "evaluate"):
                    model = mdef.merge(state["ema"], state["rest"])
                    model.eval()
                    writer.write(step, task.evaluate(model, step))
                if stop:
                    ckpt.save(mngr, step, state, data_it, force=True)
                    preempted = True
                    break
                ckpt.save(mngr, step, state, data_it, force=step == num_steps)
        mngr.wait_until_finished()
    finally:
        if bar is not None:
            bar.close()
        writer.close()
        flag.restore_handler()
        mngr.close()
        close = getattr(data_it, "close", None)
        if close is not None:
            close()
    return RunResult(step=step, preempted=preempted, last_metrics=last, state=state)


def summary(result: RunResult) -> str:
    return json.dumps({"step": result.step, "preempted": result.preempted,
                       **{k: float(np.round(v, 6)) for k, v in result.last_metrics.items()}})
