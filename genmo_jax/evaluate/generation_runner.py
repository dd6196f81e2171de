"""Generation benchmarks from an exported params folder: `python -m genmo_jax.evaluate --params DIR
--data DIR --benchmark {aistpp,humanml3d,motionx,inbetween2,inbetween5}`.

`genmo_jax.evaluate.__main__` calls `add_arguments(parser)` and `evaluate_params(args, benchmark)`
-> (ours: {metric key: value} as `report.score_*`, settings: dict); it writes the report.
Every generation runs through `generation_sampler.BatchSampler` (DDIM, `--ddim-steps` 50, CFG
`--guidance-scale` 2.5, eta 0: SPEC B 3), one fixed noise per item from `--seed`.

- aistpp: each crossmodal test piece (`generation_data.aistpp_test_set`) is danced to its music
  alone (music features of the training records, no text, no video, no keyframes), for the GT
  dance's length clipped to `--max-seconds` (default 20 s: the FID features read at most 20 s),
  joints by FK of the body model; `report.score_music` against the test pieces' GT dances with
  the music's beat track (`--bas-variant`, default Bailando's, at 30 fps).
- humanml3d / motionx: one generation per test caption (`generation_data`), window = the
  caption's length clipped to `--max-seconds` (default 9.8 s = 196 frames at 20 fps, the
  protocol's maximum); joints -> HumanML3D 263-d features (`humanml3d_features`, target skeleton
  from `--skeleton-reference`) -> the Guo et al. evaluator (`--evaluator finest.tar`, `--glove`,
  `--evaluator-mean/-std`; the .tar is read without torch). GT motions: the release's
  `new_joint_vecs` when present, else the same conversion of the GT joints. `report.score_text`
  with `--replications` groupings; `--generation-rounds R` regenerates R times (the published
  protocol: 20, GENMO: 5) and reports the mean over rounds (ci95 over rounds). MultiModality
  with `--mm-repeats N` (protocol: 30) over `--mm-prompts` (100) captions. Motion-X: GENMO's
  CLIP-based evaluator is unpublished; a Guo et al.-format evaluator trained on Motion-X is
  loaded the same way (its numbers are not comparable with GENMO Tab. 5).
- inbetween2 / inbetween5: HumanML3D test clips (first whole-clip caption, clipped to
  `--max-seconds`); keyframes = `generation.inbetween_keyframes` (2: frame 0 and a random frame
  of the second half, 5: round((L-1) i / 4); GENMO's `inpainting_3d` modes), seeded per clip;
  the keyframes' body pose, both root orientations and the clip's betas (dims 0:148, no root
  translation: SPEC B 3.4) overwrite x_t before every step, and the caption is given (paper
  protocol; `--inbetween-without-text` drops it); `--samples` (default 5; the paper does not say
  how many) noise samples per clip; `report.score_inbetween` (minimum over samples).
"""

from __future__ import annotations

import os

import numpy as np

from genmo_jax.evaluate import benchmarks, generation, generation_data, humanml3d_features, report, text_metrics
from genmo_jax.evaluate.generation_sampler import BatchSampler, item_noise

GENERATION_BENCHMARKS = ("aistpp", "humanml3d", "motionx", "inbetween2", "inbetween5")
DEFAULT_MAX_SECONDS = {"music": 20.0, "text": 9.8, "inbetween": 9.8}
HUMANML_MAX_FRAMES = 196  # at 20 fps: the protocol's max_motion_length


def add_arguments(parser):
    """Flags of the generation benchmarks (the caller owns --params, --data, --benchmark, --out,
    --bas-variant, --replications, ...)."""
    group = parser.add_argument_group("generation benchmarks (--params/--data)")
    group.add_argument("--split-file", help="test split file (default: the dataset's own, see docs/EVALUATION.md)")
    group.add_argument("--amass", help="humanml3d/inbetween: the AMASS root of index.csv (default <data>/amass)")
    group.add_argument("--evaluator", help="text: Guo et al. evaluator checkpoint (text_mot_match/model/finest.tar)")
    group.add_argument("--glove", help="text: folder with the evaluator's GloVe tables "
                       "our_vab_{data.npy,words.pkl,idx.pkl}")
    group.add_argument("--evaluator-mean", help="text: the evaluator's feature mean (263,) .npy (MDM t2m_mean.npy)")
    group.add_argument("--evaluator-std", help="text: the evaluator's feature std (263,) .npy (MDM t2m_std.npy)")
    group.add_argument("--skeleton-reference", help="text: a HumanML3D new_joints/*.npy clip giving the target bone "
                       "lengths (default <data>/new_joints/000021.npy, else the body model's rest skeleton)")
    group.add_argument("--ddim-steps", type=int, default=50, help="DDIM steps (SPEC B 3: 50)")
    group.add_argument("--guidance-scale", type=float, default=2.5, help="classifier-free guidance (1 = off)")
    group.add_argument("--seed", type=int, default=0, help="noise seed (one key per generated item)")
    group.add_argument("--batch-size", type=int, default=16, help="items per sampler call")
    group.add_argument("--samples", type=int, default=5, help="in-betweening: noise samples per clip (min taken)")
    group.add_argument("--min-seconds", type=float, default=2.0, help="text/in-betweening: shortest test motion "
                       "(protocol: 40 frames at 20 fps)")
    group.add_argument("--max-seconds", type=float, default=None, help="longest generation (default: 20 for "
                       "aistpp, 9.8 for text and in-betweening); text clips of 10 s or more are dropped")
    group.add_argument("--max-items", type=int, default=None, help="use only the first N test clips (quick runs)")
    group.add_argument("--generation-rounds", type=int, default=1, help="text: independent generations of the "
                       "test set (protocol: 20, GENMO: 5)")
    group.add_argument("--mm-repeats", type=int, default=0, help="text: MultiModality generations per prompt "
                       "(protocol: 30; 0 = skip)")
    group.add_argument("--mm-prompts", type=int, default=100, help="text: MultiModality prompts")
    group.add_argument("--motionx-fps", type=float, default=30.0, help="motionx: frame rate of the motion files")
    group.add_argument("--motionx-up", default="y", choices=("y", "z"), help="motionx: up axis of the motion files")
    group.add_argument("--inbetween-without-text", action="store_true", help="in-betweening: keyframes only")
    return parser


# ----- shared -----


def _load(args):
    from genmo_jax.body.select import body_model_from_config, body_model_path
    from genmo_jax.data.converters.common import default_rest_joints
    from genmo_jax.params_io import load_params

    if not getattr(args, "params", None):
        raise ValueError("--params DIR (an exported params folder) is required")
    if not getattr(args, "data", None) or not os.path.isdir(args.data):
        raise FileNotFoundError(f"--data {getattr(args, 'data', None)!r} is not a directory")
    exported = load_params(args.params)
    body_config = exported.config.get("body", {"model": "open"})
    return exported, body_model_from_config(body_config), default_rest_joints(body_model_path(body_config))


def _max_frames(args, task):
    seconds = args.max_seconds if args.max_seconds is not None else DEFAULT_MAX_SECONDS[task]
    return int(round(seconds * 30))


def _generate(exported, body, args, items, num_frames):
    sampler = BatchSampler(exported, body, num_frames, min(args.batch_size, len(items)), ddim_steps=args.ddim_steps,
                           guidance_scale=args.guidance_scale)
    return sampler.sample(items)


def _sampler_settings(args):
    return {"params": os.path.abspath(args.params), "data": os.path.abspath(args.data), "ddim_steps": args.ddim_steps,
            "guidance_scale": args.guidance_scale, "seed": args.seed, "eta": 0.0}


def _encode_captions(exported, captions, batch_size=32):
    from genmo_jax.model.text import load_text_encoder

    encoder = load_text_encoder(exported.config.text)
    if encoder is None:
        raise ValueError("this benchmark conditions on text, but the model has no text encoder (text.encoder = none)")
    states, mask = encoder.encode(list(captions), batch_size=batch_size)
    return np.asarray(states, np.float32) * np.asarray(mask, np.float32)[..., None]


# ----- music -----


def score_dances(pieces, generated_joints, bas_variant="bailando"):
    """report.score_music of generated dances (one (T, 24, 3) per piece, with that piece's music
    beats) against the pieces' GT dances; adds `bas_gt`, the GT dances' BAS on their own beats."""
    ours = report.score_music([(j, p["music_beats"]) for j, p in zip(generated_joints, pieces)],
                              [p["joints"] for p in pieces], fps=30.0, bas_variant=bas_variant)
    ours["bas_gt"] = float(np.mean([generation.beat_alignment_score(p["music_beats"], p["joints"], bas_variant)
                                    for p in pieces]))
    return ours


def _music_benchmark(args, exported, body, rest_joints_fn):
    pieces = generation_data.aistpp_test_set(args.data, rest_joints_fn, args.split_file, args.max_items)
    max_frames = _max_frames(args, "music")
    items = [dict(num_frames=min(len(p["joints"]), max_frames), music=p["music"]) for p in pieces]
    for index, item in enumerate(items):
        item["noise"] = item_noise(args.seed, index, item["num_frames"])
    results = _generate(exported, body, args, items, max(item["num_frames"] for item in items))
    bas_variant = getattr(args, "bas_variant", "bailando")
    ours = score_dances(pieces, [r["joints_w"] for r in results], bas_variant)
    settings = dict(_sampler_settings(args), pieces=len(pieces), bas_variant=bas_variant, fps=30.0,
                    max_frames=max_frames, conditions="music only", gt_set="crossmodal test GT dances",
                    music_beats="beat one-hot of the 35-d music features (librosa beat_track)")
    settings["notes"] = (f"Ours: {len(pieces)} crossmodal test pieces, music only, {args.ddim_steps} DDIM steps, CFG "
                         f"{args.guidance_scale}; BAS {bas_variant} variant at 30 fps (GT dances on their own beats: "
                         f"{ours['bas_gt']:.4f}); FID/Div against the test GT dances.",)
    return ours, settings


# ----- text -----


class TextMotionEvaluator:
    """A (text, motion) embedding pair: embed_text(token lists) -> (N, D); embed_motion(list of
    unnormalised (T_i, 263) HumanML3D features) -> (N, D)."""

    def __init__(self, embed_text, embed_motion, name="custom"):
        self.embed_text, self.embed_motion, self.name = embed_text, embed_motion, name

    @classmethod
    def from_files(cls, checkpoint, glove, mean_path, std_path):
        from genmo_jax.evaluate import t2m_evaluator

        for flag, value in (("--glove", glove), ("--evaluator-mean", mean_path), ("--evaluator-std", std_path)):
            if not value:
                raise ValueError(f"{flag} is required with --evaluator")
            if not os.path.exists(value):
                raise FileNotFoundError(f"{flag} {value!r} not found")
        try:
            params = t2m_evaluator.load_t2m_evaluator(checkpoint)
        except ImportError:
            raise ValueError(f"--evaluator {checkpoint!r}: reading the published .tar needs torch "
                             "(pip install torch)") from None
        mean, std = np.load(mean_path), np.load(std_path)
        embed_text, embed_motion = t2m_evaluator.make_embedding_functions(
            params, t2m_evaluator.WordVectorizer(glove), mean, std)
        return cls(embed_text, embed_motion, name=os.path.abspath(checkpoint))


def skeleton_offsets(args, body):
    """(22, 3) HumanML3D target offsets and where they came from."""
    path = args.skeleton_reference or os.path.join(args.data, "new_joints", "000021.npy")
    if os.path.isfile(path):
        return humanml3d_features.skeleton_offsets(np.load(path)[0, :humanml3d_features.NUM_JOINTS]), path
    if args.skeleton_reference:
        raise FileNotFoundError(f"--skeleton-reference {path!r} not found")
    from genmo_jax.body import smpl

    rest = np.asarray(smpl.rest_joints(body, np.zeros(10, np.float32)))[:humanml3d_features.NUM_JOINTS]
    return humanml3d_features.skeleton_offsets(rest), "body model rest skeleton"


def _gt_features(entry, num_frames, offsets):
    if "gt_features" in entry:  # the release's own features (20 fps), cropped as the generation
        return entry["gt_features"][:min(HUMANML_MAX_FRAMES, int(round(num_frames * 2 / 3)))]
    return humanml3d_features.features_from_joints(entry["joints"][:num_frames], offsets, fps=30.0)


def score_text_motions(entries, generated_rounds, evaluator, offsets, replications=20, num_frames=None):
    """Text metrics of generated joints (one list of (T_i, 24, 3) per generation round, paired with
    `entries`) against the entries' GT motions. Each round: `report.score_text` with
    `replications` groupings; several rounds: the mean over rounds, ci95 = 1.96 std / sqrt(R)."""
    num_frames = num_frames or [len(e["joints"]) for e in entries]
    text = text_metrics.embed_in_batches(evaluator.embed_text, [e["tokens"] for e in entries])
    gt = text_metrics.embed_in_batches(evaluator.embed_motion,
                                       [_gt_features(e, n, offsets) for e, n in zip(entries, num_frames)])
    rounds = []
    for index, joints in enumerate(generated_rounds):
        features = [humanml3d_features.features_from_joints(j, offsets, fps=30.0) for j in joints]
        gen = text_metrics.embed_in_batches(evaluator.embed_motion, features)
        rounds.append(report.score_text(text, gen, gt, replications, seed=1000 * index))
    if len(rounds) == 1:
        return rounds[0]
    out = {}
    for key in (k for k in rounds[0] if not k.endswith("_ci95")):
        out[key], out[key + "_ci95"] = text_metrics.summarize_replications([r[key] for r in rounds])
    return out


def _text_benchmark(args, bench_name, exported, body, rest_joints_fn, evaluator):
    if evaluator is None:
        if not args.evaluator:
            raise ValueError("--evaluator PATH (text_mot_match finest.tar) is required for the text benchmarks")
        evaluator = TextMotionEvaluator.from_files(args.evaluator, args.glove, args.evaluator_mean,
                                                   args.evaluator_std)
    if bench_name == "humanml3d":
        entries = generation_data.humanml3d_test_set(args.data, rest_joints_fn, args.amass, args.split_file,
                                                     args.min_seconds, 10.0, args.max_items, seed=args.seed)
    else:
        entries = generation_data.motionx_test_set(args.data, rest_joints_fn, args.split_file, args.min_seconds, 10.0,
                                                   args.motionx_fps, args.motionx_up, args.max_items)
    max_frames = _max_frames(args, "text")
    lengths = [min(e["num_frames"], max_frames) for e in entries]
    texts = _encode_captions(exported, [e["caption"] for e in entries])
    sampler = BatchSampler(exported, body, max(lengths), min(args.batch_size, len(entries)),
                           ddim_steps=args.ddim_steps, guidance_scale=args.guidance_scale)
    rounds = []
    for r in range(args.generation_rounds):
        items = [dict(num_frames=n, text=t, noise=item_noise(args.seed + r, i, n))
                 for i, (n, t) in enumerate(zip(lengths, texts))]
        rounds.append([out["joints_w"] for out in sampler.sample(items)])
    offsets, offsets_source = skeleton_offsets(args, body)
    replications = int(getattr(args, "replications", 20) or 1)
    ours = score_text_motions(entries, rounds, evaluator, offsets, replications, lengths)
    if args.mm_repeats:
        ours["multimodality"] = _multimodality(args, entries, lengths, texts, sampler, evaluator, offsets)
    settings = dict(_sampler_settings(args), captions=len(entries), clips=len({e["name"] for e in entries}),
                    generation_rounds=args.generation_rounds, replications=replications, evaluator=evaluator.name,
                    skeleton_reference=offsets_source, max_frames=max_frames, min_seconds=args.min_seconds,
                    gt_features="new_joint_vecs" if "gt_features" in entries[0] else "converted from GT joints",
                    mm_repeats=args.mm_repeats)
    settings["notes"] = (f"Ours: {settings['captions']} captions, {args.ddim_steps} DDIM steps, CFG "
                         f"{args.guidance_scale}, {args.generation_rounds} generation round(s) x {replications} "
                         f"groupings, evaluator {os.path.basename(evaluator.name)}.",)
    if bench_name == "motionx":
        settings["notes"] += ("GENMO's Motion-X evaluator (CLIP text encoder) is unpublished: our row uses the given "
                              "Guo et al.-format evaluator and is not comparable with GENMO Tab. 5.",)
    return ours, settings


def _multimodality(args, entries, lengths, texts, sampler, evaluator, offsets):
    rng = np.random.default_rng(args.seed)
    prompts = rng.choice(len(entries), min(args.mm_prompts, len(entries)), replace=False)
    items = [dict(num_frames=lengths[p], text=texts[p], noise=item_noise(args.seed + 10_000 + k, int(p), lengths[p]))
             for p in prompts for k in range(args.mm_repeats)]
    joints = [out["joints_w"] for out in sampler.sample(items)]
    features = [humanml3d_features.features_from_joints(j, offsets, fps=30.0) for j in joints]
    embeddings = text_metrics.embed_in_batches(evaluator.embed_motion, features)
    embeddings = embeddings.reshape(len(prompts), args.mm_repeats, -1)
    return text_metrics.multimodality(embeddings, times=min(10, args.mm_repeats), rng=rng)


# ----- in-betweening -----


def keyframe_items(entries, num_keyframes, samples, seed, texts=None):
    """Sampler items (samples per entry) with the GT keyframes of `generation.inbetween_keyframes`
    (rng seeded per entry) and the entries' keyframe frame lists."""
    items, keyframes = [], []
    for index, entry in enumerate(entries):
        n = entry["num_frames"]
        frames = generation.inbetween_keyframes(n, num_keyframes, np.random.default_rng([seed, index]))
        smpl_params = entry["smpl"]
        keys = dict(frames=frames, global_orient=smpl_params["global_orient"][frames],
                    body_pose=smpl_params["body_pose"][frames], betas=smpl_params["betas"])
        keyframes.append(frames)
        for s in range(samples):
            item = dict(num_frames=n, keyframes=keys, noise=item_noise(seed, index * samples + s, n))
            if texts is not None:
                item["text"] = texts[index]
            items.append(item)
    return items, keyframes


def _inbetween_benchmark(args, num_keyframes, exported, body, rest_joints_fn):
    max_frames = _max_frames(args, "inbetween")
    entries = generation_data.humanml3d_test_set(args.data, rest_joints_fn, args.amass, args.split_file,
                                                 args.min_seconds, 10.0, args.max_items, one_per_clip=True)
    for entry in entries:  # clip to the longest generation; the GT is cut to the same frames
        n = min(entry["num_frames"], max_frames)
        entry.update(num_frames=n, joints=entry["joints"][:n],
                     smpl={k: (v[:n] if k != "betas" else v) for k, v in entry["smpl"].items()})
    texts = None if args.inbetween_without_text else _encode_captions(exported, [e["caption"] for e in entries])
    items, keyframes = keyframe_items(entries, num_keyframes, args.samples, args.seed, texts)
    results = _generate(exported, body, args, items, max(e["num_frames"] for e in entries))
    samples = []
    for index, (entry, frames) in enumerate(zip(entries, keyframes)):
        preds = np.stack([results[index * args.samples + s]["joints_w"] for s in range(args.samples)])
        samples.append((preds, entry["joints"], frames))
    ours = report.score_inbetween(samples)
    settings = dict(_sampler_settings(args), clips=len(entries), samples=args.samples, keyframes=num_keyframes,
                    keyframe_rule="frame 0 + random frame of the second half" if num_keyframes == 2
                    else "round((L-1) i / 4), i = 0..4", keyframe_dims="0:148 (body pose, betas, root orientations)",
                    text=not args.inbetween_without_text, max_frames=max_frames, joints="24 SMPL joints, body model FK")
    settings["notes"] = (f"Ours: {len(entries)} HumanML3D test clips, {num_keyframes} keyframes "
                         f"({settings['keyframe_rule']}), min over {args.samples} samples, {args.ddim_steps} DDIM steps"
                         f"{', caption given' if settings['text'] else ''}.",)
    return ours, settings


# ----- entry point -----


def evaluate_params(args, benchmark, *, evaluator=None):
    """Generates and scores one generation benchmark. benchmark: a `benchmarks.Benchmark` or its
    name; evaluator: an optional `TextMotionEvaluator` (else loaded from --evaluator).
    Returns (ours {metric: value}, settings {name: value})."""
    bench = benchmarks.get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    if bench.name not in GENERATION_BENCHMARKS:
        raise ValueError(f"{bench.name!r} is not a generation benchmark ({', '.join(GENERATION_BENCHMARKS)})")
    for flag in ("ddim_steps", "batch_size", "samples", "generation_rounds"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1; got {getattr(args, flag)}")
    exported, body, rest_joints_fn = _load(args)
    if bench.task == "music":
        return _music_benchmark(args, exported, body, rest_joints_fn)
    if bench.task == "text":
        return _text_benchmark(args, bench.name, exported, body, rest_joints_fn, evaluator)
    return _inbetween_benchmark(args, int(bench.name[-1]), exported, body, rest_joints_fn)
