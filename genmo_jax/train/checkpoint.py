"""Orbax checkpoints of the whole run: train state (model, optimizer, EMA, step) + data iterator.

One ``CheckpointManager`` per workdir (``<workdir>/checkpoints/<step>/{state,data}``), async
(``save`` returns after the device -> host copy, the write goes on in the background), with a keep
policy (``LatestN`` + ``EveryNSteps``). Orbax writes each step into a temporary folder and commits
it by an atomic rename only when every file is written, and deletes old steps only after the new
one is committed, so a crash during a save leaves the previous good checkpoint intact
(tests/test_train_checkpoint.py kills a process mid-save to check this).

Preemption: a SIGTERM on a single-process run sets a flag (``PreemptionFlag``) that the loop reads
after each step, then it saves and exits with ``PREEMPTED_EXIT_CODE``; on multi-host runs JAX's
preemption service turns SIGTERM into a step that every process agrees on
(``manager.reached_preemption(step)``).

Randomness needs no saving: every key of step s is ``fold_in(seed key, s)`` (``train.step``).
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

import jax
import orbax.checkpoint as ocp

PREEMPTED_EXIT_CODE = 42   # launchers requeue on this code (launch/slurm.sbatch)


class CheckpointError(RuntimeError):
    """A checkpoint folder exists but cannot be read back."""


def make_manager(directory: str, *, save_every: int, keep: int = 3,
                 keep_every: int = 0, async_save: bool = True,
                 with_data: bool = True) -> ocp.CheckpointManager:
    """A CheckpointManager for ``directory`` (created if missing).

    Args:
      directory: the checkpoint root, e.g. ``<workdir>/checkpoints``.
      save_every: save every N steps (plus the first step and preemption steps, orbax defaults).
      keep: keep the N most recent checkpoints.
      keep_every: also keep every checkpoint whose step is a multiple of this (0 = off).
      async_save: write in a background thread.
      with_data: the checkpoint holds a ``data`` item (a Grain iterator) next to ``state``.
    Raises:
      FileNotFoundError: ``directory`` exists but is a file.
    """
    directory = os.path.abspath(directory)
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise FileNotFoundError(f"checkpoint directory {directory} is a file, not a folder")
    policies = [ocp.checkpoint_managers.LatestN(int(keep))]
    if keep_every:
        policies.append(ocp.checkpoint_managers.EveryNSteps(int(keep_every)))
    options = ocp.CheckpointManagerOptions(
        save_interval_steps=int(save_every),
        preservation_policy=ocp.checkpoint_managers.AnyPreservationPolicy(policies),
        enable_async_checkpointing=bool(async_save),
        create=True,
        cleanup_tmp_directories=True,   # leftovers of a crash mid-save are removed at start
    )
    names = ("state", "data") if with_data else ("state",)
    handlers = {"state": ocp.StandardCheckpointHandler()}
    if with_data:
        import grain   # only needed when a data iterator is checkpointed
        handlers["data"] = grain.checkpoint.CheckpointHandler()
    return ocp.CheckpointManager(directory, options=options, item_names=names,
                                 item_handlers=handlers)


def save(manager: ocp.CheckpointManager, step: int, state: Any, data_iterator=None, *,
         force: bool = False) -> bool:
    """Saves ``state`` (and the iterator) at ``step`` if the policy says so (or ``force``).

    All processes must call this with the same step. Returns True when a save was started.
    """
    items = {"state": ocp.args.StandardSave(state)}
    if data_iterator is not None:
        import grain
        items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
    return manager.save(int(step), args=ocp.args.Composite(**items), force=force)


def latest_step(manager: ocp.CheckpointManager) -> int | None:
    return manager.latest_step()


def restore(manager: ocp.CheckpointManager, abstract_state: Any, data_iterator=None,
            step: int | None = None) -> tuple[int, Any]:
    """Restores the given (or latest) step onto the shardings carried by ``abstract_state``
    (ShapeDtypeStructs with ``sharding``: any mesh works, not only the one that saved).
    The data iterator, if given, is restored in place.

    Returns:
      (step, state).
    Raises:
      FileNotFoundError: no checkpoint in the manager's directory.
      CheckpointError: the checkpoint exists but is unreadable (truncated, missing files, wrong
        tree), with the folder and the underlying error in the message.
    """
    if step is None:
        step = manager.latest_step()
    if step is None:
        raise FileNotFoundError(f"no checkpoint found in {manager.directory}")
    path = os.path.join(str(manager.directory), str(step))
    items = {"state": ocp.args.StandardRestore(abstract_state)}
    if data_iterator is not None:
        import grain
        items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
    try:
        restored = manager.restore(int(step), args=ocp.args.Composite(**items))
    except FileNotFoundError as e:
        raise CheckpointError(f"checkpoint {path} is incomplete or corrupt: {e}") from e
    except (ValueError, KeyError, OSError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} cannot be restored: "
                              f"{type(e).__name__}: {e}") from e
    return int(step), restored["state"]


def read_state(directory: str, step: int | None = None, device=None) -> tuple[int, Any]:
    """The whole saved train state of ``<directory>/<step>`` on ONE device, whatever mesh or
    number of processes saved it (for evaluation, export and inspection).

    Returns (step, state) with the layout of ``genmo_jax.train.state``.
    Raises FileNotFoundError (no such folder / no checkpoint) or CheckpointError (unreadable).
    """
    directory = os.path.abspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"checkpoint directory {directory} does not exist")
    if step is None:
        steps = [int(s) for s in os.listdir(directory)
                 if s.isdigit() and os.path.exists(os.path.join(directory, s,
                                                                "commit_success.txt"))]
        if not steps:
            raise FileNotFoundError(f"no checkpoint found in {directory}")
        step = max(steps)
    path = os.path.join(directory, str(step), "state")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    sharding = jax.sharding.SingleDeviceSharding(device or jax.local_devices()[0])
    checkpointer = ocp.StandardCheckpointer()
    try:
        meta = checkpointer.metadata(path)
        tree = meta.item_metadata.tree if hasattr(meta, "item_metadata") else meta.tree
        target = jax.tree.map(
            lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=sharding), tree)
        return int(step), checkpointer.restore(path, target)
    except (FileNotFoundError, ValueError, KeyError, OSError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path} cannot be read: {type(e).__name__}: {e}") from e
    finally:
        checkpointer.close()


class PreemptionFlag:
    """Set by SIGTERM (single-process runs). The loop polls ``is_set()`` after every step.

    Multi-process runs leave SIGTERM to JAX's preemption service, which makes all processes stop
    at the same step; a local flag would make one process save alone and hang the others.
    """

    def __init__(self):
        self._event = threading.Event()
        self._previous = None
        if jax.process_count() == 1 and threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, signum, frame):
        del signum, frame
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def restore_handler(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGTERM, self._previous)
            self._previous = None


def should_stop_for_preemption(manager: ocp.CheckpointManager, step: int,
                               flag: PreemptionFlag) -> bool:
    return flag.is_set() or manager.reached_preemption(int(step))
