"""Text-following experiments of benchmarks/RESULTS.md "Learning test", sessions 3-4 (runs A-M):
tests/test_train_learns.py's training and sampling on 1 CPU device, with knobs from env vars.

  OUT=DIR (required; train/ and test/ shards are written there once, then reused)
  STEPS (600), CLIPS (192), WINDOW (60), SAMPLES (16 per caption), LR (2e-3), MIX (balanced)
  GEN_CAM = generation_camera of the procedural rows (static); CLIP_STD=0/1 (tiny.py's if unset)
  OVERRIDES="loss.gv_j3d=500.0 model.latent_dim=128" (config keys)
  VEL=1: velocity dims divided by their true std (floor 1e-3) under clip_std (run C, H)
  TRANSL_L2=1: transl_w as an MSE instead of L1 (run I)
VEL and TRANSL_L2 monkey-patch `normalization` / `losses`: experiments, not options.

Runs A-M were made with tiny.py's earlier defaults (clip_std True, simple_velocity_weight 1):
to reproduce one, add CLIP_STD=1 and "loss.simple_velocity_weight=1.0" unless the run sets them.
  e.g. run F: OUT=/tmp/F STEPS=1500 GEN_CAM=front CLIP_STD=1 \
       OVERRIDES="loss.gv_j3d=500.0 loss.simple_velocity_weight=1.0" \
       .venv/bin/python benchmarks/learning_experiments.py
  run M (= today's tiny.py): OUT=/tmp/M STEPS=1500 GEN_CAM=front CLIP_STD=0 \
       OVERRIDES="loss.gv_j3d=500.0 loss.simple_velocity_weight=200.0" (then a monkey-patch, VELW=200)
"""
import json, os, sys, time
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT); sys.path.insert(0, os.path.join(ROOT, "tests"))
import jax, jax.numpy as jnp, numpy as np
import ml_collections
from test_train_learns import root_measures, _pairwise, CAPTIONS
from configs import tiny
from genmo_jax.data.procedural import records, world
from genmo_jax.data.procedural.__main__ import load_skeleton

E = os.environ
STEPS = int(E.get("STEPS", 600)); CLIPS = int(E.get("CLIPS", 192)); WINDOW = int(E.get("WINDOW", 60))
SAMPLES = int(E.get("SAMPLES", 16)); GEN_CAM = E.get("GEN_CAM", "static"); CLIP_STD = E.get("CLIP_STD")
LR = float(E.get("LR", 2e-3)); OUT = E["OUT"]; MIX = E.get("MIX", "balanced")

def write(root, seed, count, skeleton):
    from genmo_jax.data import shards
    weights = world.BALANCED_ACTION_WEIGHTS if MIX == "balanced" else None
    with shards.ShardWriter(str(root), records.DATASET, 256) as writer:
        for i in range(count):
            kw = {"action_weights": weights} if weights else {}
            writer.add(records.generate_record(skeleton, seed, i, dance_prob=0.0, **kw))

def patch_velocity():
    from genmo_jax.motion import normalization
    def eff(stats, clip_std):
        std = jnp.asarray(stats.std)
        if not clip_std:
            return jnp.maximum(std, normalization.MIN_STD)
        return jnp.maximum(std, 1.0).at[148:151].set(jnp.maximum(std[148:151], 1e-3))
    normalization._effective_std = eff

def patch_transl_l2():
    from genmo_jax.train import losses
    def l2(pred_v_local, gt_rot_w, gt_transl_w, mask):
        rolled = losses.rollout_translation(pred_v_local, gt_rot_w, gt_transl_w[:, 0])
        return losses.release_mean(jnp.square(rolled - gt_transl_w), mask[..., None])
    losses.transl_w_l1 = l2

if E.get("TRANSL_L2") == "1":
    patch_transl_l2()

if E.get("VEL") == "1":
    patch_velocity()

def main():
    from genmo_jax.body.select import body_model_from_config
    from genmo_jax.data import pipeline, stats
    from genmo_jax.evaluate.generation_sampler import BatchSampler, item_noise
    from genmo_jax.model.text import load_text_encoder
    from genmo_jax.params_io import ExportedParams
    from genmo_jax.train import checkpoint as ckpt, genmo_task, loop, objective, state as state_lib
    t0 = time.time()
    skeleton = load_skeleton("open")
    train_dir, test_dir = f"{OUT}/train", f"{OUT}/test"
    if not os.path.exists(train_dir):
        write(train_dir, 11, CLIPS, skeleton); write(test_dir, 12345, 16, skeleton)
        stats.main(["--shards", train_dir])
    c = tiny.get_config()
    c.data.shard_dirs.procedural = train_dir
    c.data.window = WINDOW
    c.data.dataset_simulation = ml_collections.ConfigDict({"procedural": {"generation_camera": GEN_CAM}})
    if CLIP_STD is not None:
        c.model.clip_std = CLIP_STD == "1"
    c.train.num_steps = STEPS; c.train.warmup_steps = 20; c.train.lr = LR
    c.train.eval_every = 0; c.train.progress_bar = False; c.checkpoint.save_every = STEPS
    for kv in E.get("OVERRIDES", "").split():
        k, v = kv.split("="); node = c
        *path, last = k.split(".")
        for p in path: node = node[p]
        node[last] = type(node[last])(eval(v)) if not isinstance(node[last], str) else v
    result = loop.run(c, f"{OUT}/run")
    print(f"train done {time.time()-t0:.0f}s", flush=True)
    task = genmo_task.GenmoTask(); task.setup(c)
    c_test = c.copy_and_resolve_references(); c_test.data.shard_dirs.procedural = test_dir
    it = genmo_task.HostBatches(iter(pipeline.make_dataset(c_test, 16, 0, 1, seed=99)), None)
    batch = {k: jnp.asarray(v) for k, v in next(it).items()}; it.close()
    _, saved = ckpt.read_state(f"{OUT}/run/checkpoints", STEPS)
    mdef, _, _ = state_lib.split_model(task.build_model(c))
    model = mdef.merge(saved["ema"], saved["rest"])
    mpjpe, baseline = jax.jit(lambda b: objective.estimation_mpjpe(model, b, task.spec))(batch)
    rows = [json.loads(l) for l in open(f"{OUT}/run/metrics.jsonl")]
    print(f"loss {rows[0]['loss']:.1f} -> {rows[-1]['loss']:.1f}; MPJPE {float(mpjpe):.1f} vs {float(baseline):.1f}")
    encoder = load_text_encoder(c.text)
    states, mask = encoder.encode(list(CAPTIONS.values()))
    states = np.asarray(states, np.float32) * np.asarray(mask, np.float32)[..., None]
    items = [{"num_frames": WINDOW, "text": states[k], "noise": item_noise(0, k * SAMPLES + i, WINDOW)}
             for k in range(len(CAPTIONS)) for i in range(SAMPLES)]
    exported = ExportedParams(model=model, config=c, stats={"mean": np.asarray(task.spec.stats.mean),
                                                           "std": np.asarray(task.spec.stats.std)})
    body = body_model_from_config(c.body)
    for scale in [float(s) for s in E.get("SCALES", "1.0 2.5").split()]:
        sampler = BatchSampler(exported, body, WINDOW, len(items), guidance_scale=scale)
        v = np.array([root_measures(r["joints_w"]) for r in sampler.sample(items)]).reshape(len(CAPTIONS), SAMPLES, 4)
        print(f"guidance {scale}: forward / rise / yaw / bump (mean, sd)")
        for k, lab in enumerate(CAPTIONS):
            print(f"  {lab:11s} {v[k,:,0].mean():+6.2f} ({v[k,:,0].std():.2f}) {v[k,:,1].mean():6.3f} ({v[k,:,1].std():.3f}) {v[k,:,2].mean():+5.0f} ({v[k,:,2].std():.0f}) {v[k,:,3].mean():6.3f} ({v[k,:,3].std():.3f})")
        labs = list(CAPTIONS)
        oth = lambda m, lab: np.concatenate([v[j,:,m] for j, l in enumerate(labs) if l != lab])
        i = labs.index
        print(f"  pairwise: walk {_pairwise(v[i('walk'),:,0], oth(0,'walk')):.2f} jump rise {_pairwise(v[i('jump'),:,1], oth(1,'jump')):.2f} bump {_pairwise(v[i('jump'),:,3], oth(3,'jump')):.2f} "
              f"left {_pairwise(v[i('turn_left'),:,2], oth(2,'turn_left')):.2f} left>right {_pairwise(v[i('turn_left'),:,2], v[i('turn_right'),:,2]):.2f}", flush=True)
    print(f"total {time.time()-t0:.0f}s")

main()
