"""Cost of the evaluation metrics on this CPU, at the benchmarks' real sizes.

    python benchmarks/evaluate_metrics.py [--repeats 3]

Prints, per metric family, the time per call (best of `--repeats` after one warm-up/compile call)
and the ratios that matter: per-frame cost of long vs short sequences for the estimation metrics
(about 1 = linear in length), and multiples of real time for feature extraction.
"""

import argparse

import numpy as np

from genmo_jax.evaluate import estimation, generation, humanml3d_features, t2m_evaluator, text_metrics

from timing import best_seconds


def walking(rng, frames, joints=24, offset=10.0):
    path = np.cumsum(rng.normal(size=(frames, 1, 3)) * 0.01, axis=0)
    return (path + rng.normal(size=(1, joints, 3)) * 0.3 + offset).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    print("| estimation (24 joints) | frames | ms per call | us per frame |")
    print("|---|---|---|---|")
    per_frame = {}
    for frames in (300, 3000, 20000):
        gt = walking(rng, frames)
        pred = gt + rng.normal(size=gt.shape).astype(np.float32) * 0.02

        def world():
            out = estimation.global_metrics(pred, gt)
            return [float(v.mean()) for v in out.values()]

        def camera():
            out = estimation.camera_metrics(pred, gt)
            return [float(v.mean()) for v in out.values()]

        for name, fn in (("global_metrics", world), ("camera_metrics", camera)):
            seconds = best_seconds(fn, args.repeats)
            per_frame[name, frames] = seconds / frames
            print(f"| {name} | {frames} | {seconds * 1e3:.1f} | {seconds / frames * 1e6:.2f} |")
    for name in ("global_metrics", "camera_metrics"):
        print(f"per-frame cost ratio {name} 20000 / 3000 frames: {per_frame[name, 20000] / per_frame[name, 3000]:.2f}")

    dance = walking(rng, 1200, offset=0.0) + np.array([0.0, 0.9, 0.0], np.float32)
    seconds = best_seconds(lambda: generation.aist_features(dance), args.repeats)
    print(f"\nAIST++ kinetic + geometric features, 1200 frames (20 s at 60 fps): {seconds * 1e3:.1f} ms, "
          f"{20.0 / seconds:.0f}x real time")
    beats = np.arange(15, 1200, 30)
    seconds = best_seconds(lambda: generation.beat_alignment_score(beats, dance), args.repeats)
    print(f"BAS, 1200 frames: {seconds * 1e3:.2f} ms; PFC: "
          f"{best_seconds(lambda: generation.physical_foot_contact([dance]), args.repeats) * 1e3:.2f} ms")

    target = humanml3d_features.RAW_OFFSETS * 0.2
    clip = walking(rng, 196, joints=22, offset=0.0) + np.array([0.0, 0.9, 0.0], np.float32)
    seconds = best_seconds(lambda: humanml3d_features.joints_to_features(clip, target), args.repeats)
    print(f"HumanML3D 263-d features, 196 frames (9.8 s at 20 fps): {seconds * 1e3:.1f} ms, "
          f"{9.8 / seconds:.0f}x real time")

    sizes = {"movement_encoder": {"main.0.weight": (512, 259, 4), "main.0.bias": (512,), "main.3.weight": (512, 512, 4),
                                  "main.3.bias": (512,), "out_net.weight": (512, 512), "out_net.bias": (512,)}}
    def gru_head(prefix_sizes, hidden, inputs, output):
        sd = dict(prefix_sizes)
        for suffix in ("", "_reverse"):
            sd.update({f"gru.weight_ih_l0{suffix}": (3 * hidden, hidden), f"gru.weight_hh_l0{suffix}": (3 * hidden, hidden),
                       f"gru.bias_ih_l0{suffix}": (3 * hidden,), f"gru.bias_hh_l0{suffix}": (3 * hidden,)})
        sd.update({"input_emb.weight": (hidden, inputs), "input_emb.bias": (hidden,),
                   "output_net.0.weight": (hidden, 2 * hidden), "output_net.0.bias": (hidden,),
                   "output_net.1.weight": (hidden,), "output_net.1.bias": (hidden,),
                   "output_net.3.weight": (output, hidden), "output_net.3.bias": (output,), "hidden": (2, 1, hidden)})
        return sd
    sizes["motion_encoder"] = gru_head({}, 1024, 512, 512)
    sizes["text_encoder"] = gru_head({"pos_emb.weight": (300, 15), "pos_emb.bias": (300,)}, 512, 300, 512)
    state = {k: {n: rng.normal(size=s).astype(np.float32) * 0.05 for n, s in v.items()} for k, v in sizes.items()}
    params = t2m_evaluator.to_device(t2m_evaluator.params_from_state_dicts(
        state["movement_encoder"], state["text_encoder"], state["motion_encoder"]))
    motions = rng.normal(size=(32, 196, 263)).astype(np.float32)
    lengths = rng.integers(40, 197, size=32)
    seconds = best_seconds(lambda: np.asarray(t2m_evaluator.embed_motions(params, motions, lengths)), args.repeats)
    print(f"Guo et al. motion encoder (real sizes), batch 32 x 196 frames: {seconds * 1e3:.0f} ms "
          f"({seconds / 32 * 1e3:.1f} ms per motion)")

    text = rng.normal(size=(4384, 512))
    motion = text + rng.normal(size=text.shape)
    seconds = best_seconds(lambda: text_metrics.r_precision_and_matching(text, motion), args.repeats)
    print(f"R-precision + MM-Dist over 4384 pairs (HumanML3D test size), 512-d: {seconds * 1e3:.0f} ms")
    seconds = best_seconds(lambda: generation.frechet_distance(text, motion), args.repeats)
    print(f"FID of two 4384 x 512 sets: {seconds * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
