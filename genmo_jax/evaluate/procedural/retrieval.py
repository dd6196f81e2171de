"""The procedural benchmark's text-motion evaluator: a small contrastive retrieval model trained
on the procedural world, the stand-in for Guo et al.'s HumanML3D evaluator (R-precision, FID,
MM-Dist, Diversity, MultiModality are computed in its embedding space).

    python -m genmo_jax.evaluate.procedural.retrieval --out DIR [--clips 2048] [--steps 800]

trains it deterministically (about 4 minutes on 2 busy CPU cores) and writes DIR/weights.safetensors
and DIR/retrieval.json (settings and its own sanity figures). The copy the benchmark uses is
committed (`PACKAGED_DIR`, 370 kB, made by that command with the defaults), so every machine
scores in the same embedding space; without it (or with --retrieval DIR naming an empty folder)
the benchmark trains one into `default_cache_dir()` (`load_or_train`).

Design (the choices are the evaluator's definition; changing one changes every figure):
- Motion side: joints (L, 24, 3) of the body model in the world (y-up, metres, 30 fps), made
  invariant to the world's yaw, origin and floor height by the first frame's heading (hip axis),
  root position and lowest joint -> per frame: joints relative to the root's ground point (72), the root in the
  canonical frame (3), joint velocities in m/s (72) = `motion_features`, 147 numbers. Encoder:
  linear -> two residual temporal convolutions (kernel 5, GELU; padding frames zeroed before each,
  so a clip's embedding does not depend on how much padding follows it) -> masked mean and max
  over frames -> MLP -> `EMBED_DIM`.
- Text side: the caption embedding of the MiniLM encoder the model itself uses (the packaged
  all-MiniLM-L6-v2: token states mean-pooled over the mask, L2-normalised, as sentence-transformers)
  -> learned MLP -> `EMBED_DIM`. Chosen over a learned embedding of the action label because it
  scores any caption the generator writes, keeps the speed adverbs ("slowly", "quickly") that a
  label drops, and ties the metric to the text the denoiser actually reads. The caption set of the
  world is closed, so every held-out caption was seen in training (as in HumanML3D, where the
  evaluator shares the vocabulary).
- Loss: symmetric InfoNCE on negative squared Euclidean distances (logits = -|t - m|^2), since
  R-precision, MM-Dist and FID all use Euclidean distances. Captions that describe the same motion
  (same label and speed: paraphrases) are all positives of each other (`caption_key`), otherwise
  identical motions would be pushed apart.
- Training data: one-action clips of `heldout.RETRIEVAL_SEED` (balanced over labels), never the
  benchmark's clips nor a training seed of the denoiser.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from genmo_jax.data.procedural import captions as cap

FEATURE_DIM = 147
TEXT_DIM = 384
HIDDEN = 64
EMBED_DIM = 64
KERNEL = 5
VERSION = 1
DEFAULT_CLIPS = 2048
DEFAULT_STEPS = 800
BATCH = 64
MAX_FRAMES = 120


PACKAGED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), f"evaluator_v{VERSION}")


def default_cache_dir() -> str:
    """Where the benchmark keeps the trained evaluator: $GENMO_CACHE (default ~/.cache/genmo_jax)
    /procedural_retrieval_v{VERSION}."""
    root = os.environ.get("GENMO_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "genmo_jax")
    return os.path.join(root, f"procedural_retrieval_v{VERSION}")


# ------------------------------------------------------------------------------ features

@jax.jit
def motion_features(joints, length):
    """joints (B, L, 24, 3) world metres, length (B,) -> (B, L, 147) features, 0 on padding.

    Canonical frame: origin under the first frame's root at the height of its lowest joint, +z =
    its facing direction
    (cross(left hip - right hip, up)), y up. Velocities are forward differences x 30 (m/s), the
    last valid frame's set to 0."""
    joints = jnp.asarray(joints, jnp.float32)
    num = joints.shape[1]
    left = joints[:, 0, 1] - joints[:, 0, 2]
    forward = jnp.stack([-left[:, 2], jnp.zeros_like(left[:, 0]), left[:, 0]], -1)  # left x up
    yaw = jnp.arctan2(forward[:, 0], forward[:, 2])
    c, s = jnp.cos(yaw), jnp.sin(yaw)
    zero, one = jnp.zeros_like(c), jnp.ones_like(c)
    # rotation by -yaw about +y: maps the facing direction onto +z
    rot = jnp.stack([jnp.stack([c, zero, -s], -1), jnp.stack([zero, one, zero], -1),
                     jnp.stack([s, zero, c], -1)], -2)
    # origin: the first frame's root over its lowest joint (no dependence on where the floor is)
    origin = joints[:, 0, 0] * jnp.array([1.0, 0.0, 1.0]) \
        + jnp.min(joints[:, 0, :, 1], -1)[:, None] * jnp.array([0.0, 1.0, 0.0])
    canon = jnp.einsum("bij,blkj->blki", rot, joints - origin[:, None, None],
                       precision=jax.lax.Precision.HIGHEST)
    root = canon[:, :, 0]
    local = canon - root[:, :, None] * jnp.array([1.0, 0.0, 1.0])
    valid = jnp.arange(num)[None] < length[:, None]                      # (B, L)
    step = jnp.arange(num)[None] < (length[:, None] - 1)
    velocity = (jnp.concatenate([canon[:, 1:], canon[:, -1:]], 1) - canon) * 30.0
    velocity = jnp.where(step[..., None, None], velocity, 0.0)
    features = jnp.concatenate([local.reshape(*local.shape[:2], -1), root,
                                velocity.reshape(*velocity.shape[:2], -1)], -1)
    return jnp.where(valid[..., None], features, 0.0)


def caption_key(caption: str) -> str:
    """What a caption says about the motion: its label and speed ("walk/slowly"); paraphrases
    and the "a person"/"then" prefixes share a key."""
    label = cap.label_of_caption(caption)
    speed = next((name for name, adverb in cap.SPEEDS.items() if adverb and caption.endswith(adverb)),
                 "normal")
    return f"{label}/{speed}"


def sentence_embeddings(captions, encoder=None):
    """(N, 384) L2-normalised mean-pooled MiniLM caption embeddings (numpy float32)."""
    if encoder is None:
        from genmo_jax.model.text.minilm import MiniLMTextEncoder
        encoder = MiniLMTextEncoder()
    unique = sorted(set(captions))
    states, mask = encoder.encode(unique)
    mask = np.asarray(mask, np.float32)[..., None]
    pooled = (np.asarray(states, np.float32) * mask).sum(1) / np.maximum(mask.sum(1), 1.0)
    pooled /= np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
    lookup = dict(zip(unique, pooled))
    return np.stack([lookup[c] for c in captions]).astype(np.float32)


# ------------------------------------------------------------------------------- model

class MotionEncoder(nnx.Module):
    """(B, L, 147) features + length (B,) -> (B, EMBED_DIM)."""

    def __init__(self, rngs: nnx.Rngs):
        self.inp = nnx.Linear(FEATURE_DIM, HIDDEN, rngs=rngs)
        self.convs = nnx.List([nnx.Conv(HIDDEN, HIDDEN, (KERNEL,), padding="SAME", rngs=rngs)
                               for _ in range(2)])
        self.hidden = nnx.Linear(2 * HIDDEN, HIDDEN, rngs=rngs)
        self.out = nnx.Linear(HIDDEN, EMBED_DIM, rngs=rngs)

    def __call__(self, features, length):
        valid = (jnp.arange(features.shape[1])[None] < length[:, None])[..., None]
        h = jnp.where(valid, self.inp(features), 0.0)
        for conv in self.convs:
            h = jnp.where(valid, h + jax.nn.gelu(conv(h)), 0.0)
        count = jnp.maximum(valid.sum(1), 1)
        pooled = jnp.concatenate([h.sum(1) / count, jnp.where(valid, h, -1e9).max(1)], -1)
        return self.out(jax.nn.gelu(self.hidden(pooled)))


class TextEncoder(nnx.Module):
    """(B, 384) sentence embeddings -> (B, EMBED_DIM)."""

    def __init__(self, rngs: nnx.Rngs):
        self.hidden = nnx.Linear(TEXT_DIM, HIDDEN, rngs=rngs)
        self.out = nnx.Linear(HIDDEN, EMBED_DIM, rngs=rngs)

    def __call__(self, sentence):
        return self.out(jax.nn.gelu(self.hidden(sentence)))


class RetrievalModel(nnx.Module):
    def __init__(self, seed: int = 0):
        rngs = nnx.Rngs(seed)
        self.motion = MotionEncoder(rngs)
        self.text = TextEncoder(rngs)


def contrastive_loss(text_emb, motion_emb, same):
    """Symmetric InfoNCE on -|t - m|^2; same (B, B) bool marks positive pairs (diagonal included)."""
    logits = -jnp.sum((text_emb[:, None] - motion_emb[None]) ** 2, -1)
    target = same / same.sum(-1, keepdims=True)
    text_to_motion = optax.softmax_cross_entropy(logits, target).mean()
    motion_to_text = optax.softmax_cross_entropy(logits.T, target.T / target.T.sum(-1, keepdims=True)).mean()
    return 0.5 * (text_to_motion + motion_to_text)


# ----------------------------------------------------------------------------- training

def train(sentences, joints, length, keys, steps=DEFAULT_STEPS, batch=BATCH, seed=0, lr=2e-3, log=None):
    """Trains a RetrievalModel on paired (sentence (N, 384), joints (N, L, 24, 3), length (N,)),
    keys (N,) int caption-key ids. Deterministic for a given seed. Returns (model, losses (steps,))."""
    model = RetrievalModel(seed)
    graphdef, params = nnx.split(model, nnx.Param)
    features = np.asarray(motion_features(jnp.asarray(joints), jnp.asarray(length)))
    schedule = optax.cosine_decay_schedule(lr, steps, alpha=0.05)
    tx = optax.adamw(schedule, weight_decay=1e-4)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, feats, lens, sent, key_ids):
        def loss_fn(p):
            net = nnx.merge(graphdef, p)
            same = key_ids[:, None] == key_ids[None, :]
            return contrastive_loss(net.text(sent), net.motion(feats, lens), same)

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    rng = np.random.default_rng(seed)
    losses = []
    for i in range(steps):
        idx = rng.choice(len(features), size=min(batch, len(features)), replace=False)
        params, opt_state, loss = step(params, opt_state, features[idx], length[idx], sentences[idx],
                                       keys[idx])
        losses.append(float(loss))
        if log is not None and (i % 100 == 0 or i == steps - 1):
            log(f"retrieval step {i}: loss {losses[-1]:.3f}")
    return nnx.merge(graphdef, params), np.asarray(losses)


@functools.partial(jax.jit, static_argnums=0)
def _embed_motion(graphdef, params, joints, length):
    net = nnx.merge(graphdef, params)
    return net.motion(motion_features(joints, length), length)


@functools.partial(jax.jit, static_argnums=0)
def _embed_text(graphdef, params, sentences):
    return nnx.merge(graphdef, params).text(sentences)


class Evaluator:
    """A trained RetrievalModel as two embedding functions (numpy in, numpy out)."""

    def __init__(self, model: RetrievalModel, info: dict | None = None):
        self.graphdef, self.params = nnx.split(model, nnx.Param)
        self.info = info or {}
        self.minilm = None              # the MiniLM text encoder, loaded on first use (or shared)

    def embed_motion(self, joints, length, batch=256):
        """joints (N, L, 24, 3) world metres, length (N,) -> (N, EMBED_DIM)."""
        joints, length = np.asarray(joints, np.float32), np.asarray(length, np.int32)
        return np.concatenate([np.asarray(_embed_motion(self.graphdef, self.params, jnp.asarray(joints[i:i + batch]),
                                                        jnp.asarray(length[i:i + batch])))
                               for i in range(0, len(joints), batch)])

    def embed_sentences(self, sentences):
        return np.asarray(_embed_text(self.graphdef, self.params, jnp.asarray(sentences, jnp.float32)))

    def embed_captions(self, captions):
        """captions (N,) str -> (N, EMBED_DIM) (MiniLM sentence embedding, then the text MLP)."""
        if self.minilm is None:
            from genmo_jax.model.text.minilm import MiniLMTextEncoder
            self.minilm = MiniLMTextEncoder()
        return self.embed_sentences(sentence_embeddings(list(captions), self.minilm))


def pad_motions(items, max_frames=MAX_FRAMES, body=None):
    """World params dicts (`heldout.text_clips`) -> joints (N, max_frames, 24, 3), length (N,),
    via the body model's FK (the same path as generated motions); padding repeats the last frame."""
    from genmo_jax.body import smpl
    from genmo_jax.body.select import body_model_from_config

    body = body_model_from_config({"model": "open"}) if body is None else body
    n = len(items)
    length = np.array([min(len(it["transl"]), max_frames) for it in items], np.int32)
    arrays = {k: np.zeros((n, max_frames, d), np.float32) for k, d in
              (("body_pose", 63), ("global_orient", 3), ("transl", 3))}
    for i, it in enumerate(items):
        for k in arrays:
            value = np.asarray(it[k], np.float32)[:length[i]]
            arrays[k][i, :length[i]] = value
            arrays[k][i, length[i]:] = value[-1]
    betas = np.stack([np.asarray(it["betas"], np.float32) for it in items])[:, None]
    joints = smpl.skeleton_forward(body, jnp.asarray(betas), jnp.asarray(arrays["global_orient"]),
                                   jnp.asarray(arrays["body_pose"]), jnp.asarray(arrays["transl"]))
    return np.asarray(joints), length


def sanity_figures(evaluator: Evaluator, clips, body=None, seed=0):
    """The evaluator's own check on real held-out clips: R@1/2/3 (groups of 32) of real motions vs
    their captions, the same with the motions shuffled (chance = 1/32 = 0.031), and key-level R@1
    (the nearest motion describes the same label and speed; counts paraphrases as hits)."""
    from genmo_jax.evaluate import text_metrics

    joints, length = pad_motions(clips, body=body)
    motion = evaluator.embed_motion(joints, length)
    text = evaluator.embed_captions([c["caption"] for c in clips])
    rng = np.random.default_rng(seed)
    real, _ = text_metrics.r_precision_and_matching(text, motion, rng=np.random.default_rng(seed))
    shuffled, _ = text_metrics.r_precision_and_matching(text, motion[rng.permutation(len(motion))],
                                                        rng=np.random.default_rng(seed))
    keys = np.array([caption_key(c["caption"]) for c in clips])
    nearest = np.argmin(text_metrics.euclidean_distance_matrix(text, motion), axis=1)
    return {"real_r_precision": [float(r) for r in real], "shuffled_r_precision": [float(r) for r in shuffled],
            "key_r1_all": float(np.mean(keys[nearest] == keys)), "num_clips": len(clips)}


def build_training_set(clips, encoder=None, body=None):
    """clips -> (sentences (N, 384), joints, length, key ids (N,) int32)."""
    captions = [c["caption"] for c in clips]
    joints, length = pad_motions(clips, body=body)
    names = sorted(set(caption_key(c) for c in captions))
    keys = np.array([names.index(caption_key(c)) for c in captions], np.int32)
    return sentence_embeddings(captions, encoder), joints, length, keys


def save(directory, model, info):
    from safetensors.numpy import save_file

    from genmo_jax.params_io import flat_variables
    os.makedirs(directory, exist_ok=True)
    save_file(flat_variables(model), os.path.join(directory, "weights.safetensors"))
    with open(os.path.join(directory, "retrieval.json"), "w") as f:
        json.dump(info, f, indent=2)


def load(directory) -> Evaluator:
    """Evaluator from DIR/weights.safetensors (+ retrieval.json); FileNotFoundError if missing."""
    from safetensors.numpy import load_file

    from genmo_jax.params_io import assign_flat
    path = os.path.join(directory, "weights.safetensors")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no retrieval evaluator at {path} (train it: python -m "
                                f"genmo_jax.evaluate.procedural.retrieval --out {directory})")
    info_path = os.path.join(directory, "retrieval.json")
    info = json.load(open(info_path)) if os.path.isfile(info_path) else {}
    if info.get("version", VERSION) != VERSION:
        raise ValueError(f"{info_path}: evaluator version {info.get('version')} != {VERSION}; retrain it")
    model = RetrievalModel(0)
    assign_flat(model, load_file(path), source=path)
    return Evaluator(model, info)


def train_and_save(directory, clips=DEFAULT_CLIPS, steps=DEFAULT_STEPS, sanity_clips=256, log=print):
    """The documented training run: data, training, sanity figures, files. Returns the Evaluator."""
    from genmo_jax.body.select import body_model_from_config
    from genmo_jax.data.procedural.__main__ import load_skeleton
    from genmo_jax.evaluate.procedural import heldout
    from genmo_jax.model.text.minilm import MiniLMTextEncoder

    start = time.perf_counter()
    skeleton, body, encoder = load_skeleton("open"), body_model_from_config({"model": "open"}), MiniLMTextEncoder()
    train_clips = heldout.text_clips(skeleton, clips, seed=heldout.RETRIEVAL_SEED, max_frames=MAX_FRAMES)
    sentences, joints, length, keys = build_training_set(train_clips, encoder, body)
    model, losses = train(sentences, joints, length, keys, steps=steps, log=log)
    evaluator = Evaluator(model)
    evaluator.minilm = encoder
    check = heldout.text_clips(skeleton, max(sanity_clips, 32), seed=heldout.HELDOUT_SEED, max_frames=MAX_FRAMES)
    info = {"version": VERSION, "clips": clips, "steps": steps, "batch": BATCH, "seed": heldout.RETRIEVAL_SEED,
            "loss_first": float(losses[0]), "loss_last": float(np.mean(losses[-20:])),
            "sanity": sanity_figures(evaluator, check, body),
            "train_seconds": time.perf_counter() - start,
            "command": f"python -m genmo_jax.evaluate.procedural.retrieval --out DIR --clips {clips} --steps {steps}"}
    evaluator.info = info
    save(directory, model, info)
    log(f"retrieval evaluator -> {directory}: loss {info['loss_first']:.3f} -> {info['loss_last']:.3f}; "
        f"held-out R@1/2/3 real {_fmt(info['sanity']['real_r_precision'])}, shuffled "
        f"{_fmt(info['sanity']['shuffled_r_precision'])}, key-level R@1 {info['sanity']['key_r1_all']:.3f}")
    return evaluator


def _fmt(values):
    return "/".join(f"{v:.3f}" for v in values)


def load_or_train(directory=None, clips=DEFAULT_CLIPS, steps=DEFAULT_STEPS, log=print) -> Evaluator:
    """The evaluator in `directory`, trained there first when missing. Default: the committed
    `PACKAGED_DIR`, else `default_cache_dir()`."""
    if directory is None and os.path.isfile(os.path.join(PACKAGED_DIR, "weights.safetensors")):
        return load(PACKAGED_DIR)
    directory = directory or default_cache_dir()
    if os.path.isfile(os.path.join(directory, "weights.safetensors")):
        return load(directory)
    log(f"training the procedural retrieval evaluator ({clips} clips, {steps} steps) -> {directory}")
    return train_and_save(directory, clips, steps, log=log)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genmo_jax.evaluate.procedural.retrieval",
                                     description="Train the procedural benchmark's text-motion retrieval evaluator.")
    parser.add_argument("--out", default=default_cache_dir(), help="output folder (default: the benchmark's cache)")
    parser.add_argument("--clips", type=int, default=DEFAULT_CLIPS)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    args = parser.parse_args(argv)
    if args.clips < BATCH or args.steps < 1:
        parser.error(f"--clips must be >= {BATCH} and --steps >= 1")
    train_and_save(args.out, args.clips, args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
