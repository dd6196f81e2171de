"""The generation benchmarks' official test splits, read through the data converters.

Every reader returns plain per-item dicts of numpy arrays in the records' conventions (y-up world,
metres, 30 fps, 24 SMPL joints from the body model's FK via the converter's `rest_joints_fn`), so
GT and generated motions go through the same body model.

- AIST++ (`aistpp_test_set`): `<src>/splits/crossmodal_test.txt` (the AIST++ annotations'
  split files; EDGE copies it as `data/splits/crossmodal_test.txt`), one `..._cAll_...` sequence
  per line; sequences in `ignore_list.txt` are skipped. Motions, cameras and music are read by
  `data.converters.aistpp` (60 -> 30 fps, transl / smpl_scaling); the music features are the
  converter's (`data.music.load_music_features`, identical to the training records'), and the
  music beats are their beat one-hot column (34: librosa `beat_track`, EDGE's baseline features).
- HumanML3D (`humanml3d_test_set`): `<src>/test.txt` (clip ids, the HumanML3D release's split
  file), `index.csv` + AMASS through `data.converters.humanml3d`, captions from `texts/<id>.txt`
  (`caption#tokens#start#end`). Entries as the text-to-motion test loader builds them: the whole
  clip with one of its untagged captions (the loader draws one per access; we draw once, seeded),
  and every tagged caption (start/end not 0) as its own sub-clip. Entries shorter than
  `min_seconds` or at least `max_seconds` long are dropped (the protocol: 40 <= T < 200 frames at
  20 fps). If `<src>/new_joint_vecs/<id>.npy` exists, the GT 263-d features are the release's
  (cut to the caption window at 20 fps, as the loader does).
- Motion-X (`motionx_test_set`): a split file (default `<src>/test.txt`, one `<subset>/<seq>` per
  line), clips through `data.converters.motionx`, one caption per line of
  `texts/semantic_labels/<subset>/<seq>.txt`, whole clip. Motion-X captions have no POS tags:
  unless a line is in HumanML3D's `caption#tokens#...` form, tokens are the lower-cased words with
  POS "OTHER" (the Guo et al. evaluator's VIP word classes still apply).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from genmo_jax.data import schema
from genmo_jax.data.converters import aistpp, humanml3d, motionx

MUSIC_BEAT_COLUMN = 34  # beat one-hot of the 35-d EDGE baseline features (data/music.py)
HUMANML_FPS = 20.0


def read_split(path) -> list[str]:
    """A split file (one name per line) -> names; FileNotFoundError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"test split file {str(path)!r} not found")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not names:
        raise ValueError(f"test split file {str(path)!r} lists no sequences")
    return names


# ----- AIST++ -----


def aistpp_test_set(src, rest_joints_fn, split_file=None, max_pieces=None) -> list[dict]:
    """The crossmodal test dances: [{name, joints (T, 24, 3), music (T, 35), music_beats (K,), music_path}].

    T is the GT dance length at 30 fps; music features are aligned with its frame 0.
    """
    src = Path(src)
    split_file = Path(split_file) if split_file else src / "splits" / "crossmodal_test.txt"
    wanted = read_split(split_file)
    ignore_path = src / "ignore_list.txt"
    ignored = set(ignore_path.read_text().split()) if ignore_path.is_file() else set()
    views = {}
    for name, item in aistpp.items(str(src)):  # one item per camera view: keep the first
        views.setdefault(Path(item["motion"]).stem, (name, item))
    pieces = []
    for seq in wanted:
        if seq in ignored:
            continue
        if seq not in views:
            raise ValueError(f"{str(split_file)!r}: sequence {seq!r} has no motion in {str(src / 'motions')!r}")
        name, item = views[seq]
        if not Path(item["music"]).is_file():
            raise FileNotFoundError(f"AIST++ music {item['music']!r} of {seq!r} missing")
        record = aistpp.convert_item(name, item, rest_joints_fn)
        music = np.asarray(record["music_feat"], np.float32)
        pieces.append(dict(name=seq, joints=np.asarray(record["joints_w"], np.float64), music=music,
                           music_beats=np.flatnonzero(music[:, MUSIC_BEAT_COLUMN] > 0.5),
                           music_path=item["music"]))
        if max_pieces and len(pieces) >= max_pieces:
            break
    if not pieces:
        raise ValueError(f"{str(split_file)!r}: no test sequence left after the ignore list")
    return pieces


# ----- text benchmarks -----


def plain_tokens(caption: str) -> list[str]:
    """Untagged caption -> ['word/OTHER', ...] (lower case, punctuation stripped)."""
    words = ["".join(ch for ch in w if ch.isalnum()) for w in caption.lower().split()]
    return [f"{w}/OTHER" for w in words if w]


def _entry(name, caption, tokens, record, start, end, gt_features=None):
    """One (caption, motion window) pair; frames [start, end) of the 30-fps record."""
    entry = dict(name=name, caption=caption, tokens=tokens, num_frames=end - start,
                 joints=np.asarray(record["joints_w"][start:end], np.float64),
                 smpl={k: np.asarray(record[k][start:end] if k != "betas" else record[k], np.float64)
                       for k in ("global_orient", "body_pose", "transl", "betas")})
    if gt_features is not None:
        entry["gt_features"] = gt_features
    return entry


def _keep(num_frames, min_seconds, max_seconds):
    seconds = num_frames / schema.FPS
    return seconds >= min_seconds - 1e-9 and (max_seconds is None or seconds < max_seconds - 1e-9)


def humanml3d_test_set(src, rest_joints_fn, amass=None, split_file=None, min_seconds=2.0, max_seconds=10.0,
                       max_clips=None, one_per_clip=False, seed=0) -> list[dict]:
    """HumanML3D test entries: [{name, caption, tokens, num_frames, joints (T, 24, 3), smpl{...},
    optional gt_features (T20, 263)}]: per clip one of its untagged captions (drawn with `seed`)
    over the whole clip, plus one entry per tagged caption over its window. `one_per_clip`: only
    the clip's first untagged caption (the in-betweening set)."""
    src = Path(src)
    rng = np.random.default_rng(seed)
    wanted = read_split(Path(split_file) if split_file else src / "test.txt")
    items = dict(humanml3d.items(str(src), amass=amass))
    indexed = _index_names(src)
    entries = []
    for clip in wanted:
        clip = Path(clip).stem
        if clip not in items:
            if clip in indexed:
                continue  # mirrored or humanact12 clips: not AMASS, the converter skips them too
            raise ValueError(f"HumanML3D test clip {clip!r} missing from {str(src / 'index.csv')!r}")
        record = humanml3d.convert_item(clip, items[clip], rest_joints_fn)
        if record is None:
            continue
        length = int(record["transl"].shape[0])
        text_path = items[clip]["text"]
        captions = humanml3d.read_captions(text_path)
        vectors_path = src / "new_joint_vecs" / f"{clip}.npy"
        vectors = np.load(vectors_path) if vectors_path.is_file() else None
        whole = [(c.text, list(c.tokens)) for c in captions if c.start_s == 0.0 and c.end_s == 0.0]
        chosen = []
        if whole:  # the loader draws one of the clip's untagged captions
            chosen.append((*whole[0 if one_per_clip else int(rng.integers(len(whole)))], 0, length))
        if not one_per_clip:
            for caption, start_s, end_s, caption_tok in captions:
                if not (start_s == 0.0 and end_s == 0.0):
                    chosen.append((caption, list(caption_tok), int(round(start_s * schema.FPS)),
                                   min(int(round(end_s * schema.FPS)), length), start_s, end_s))
        for caption, caption_tok, start, end, *tags in chosen:
            if end <= start or not _keep(end - start, min_seconds, max_seconds):
                continue
            gt = None
            if vectors is not None:  # sub-clips cut at 20 fps as the loader: [int(start * 20), int(end * 20))
                gt = vectors[int(tags[0] * HUMANML_FPS):int(tags[1] * HUMANML_FPS)] if tags else vectors
            entries.append(_entry(clip, caption, caption_tok or plain_tokens(caption), record, start, end, gt))
        if max_clips and len({e["name"] for e in entries}) >= max_clips:
            break
    if not entries:
        raise ValueError(f"HumanML3D test split under {str(src)!r}: no caption with a motion of "
                         f"{min_seconds}-{max_seconds} s")
    return entries


def _index_names(src):
    import csv

    with open(Path(src) / "index.csv", newline="", encoding="utf-8") as handle:
        return {Path(row["new_name"]).stem for row in csv.DictReader(handle)}


def motionx_test_set(src, rest_joints_fn, split_file=None, min_seconds=2.0, max_seconds=10.0, fps=30.0,
                     up="y", max_clips=None) -> list[dict]:
    """Motion-X test entries, one per caption line (whole clip), as `humanml3d_test_set`."""
    src = Path(src)
    wanted = read_split(Path(split_file) if split_file else src / "test.txt")
    items = dict(motionx.items(str(src)))
    entries = []
    for name in wanted:
        name = os.path.splitext(name)[0]
        if name not in items:
            raise ValueError(f"Motion-X test clip {name!r} missing under {str(src / 'motion_data/smplx_322')!r}")
        # The motion is the GT here: read it without the 2D keypoints (which would make it 2D-only).
        item = dict(items[name], keypoints=str(src / "__no_keypoints__.npy"))
        record = motionx.convert_item(name, item, rest_joints_fn, fps=fps, up=up)
        length = int(record["transl"].shape[0])
        if not _keep(length, min_seconds, max_seconds) or not Path(items[name]["text"]).is_file():
            continue
        for line in Path(items[name]["text"]).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            fields = line.strip().split("#")
            caption = fields[0].strip()
            tokens = fields[1].split(" ") if len(fields) > 1 and fields[1].strip() else plain_tokens(caption)
            entries.append(_entry(name, caption, tokens, record, 0, length))
        if max_clips and len({e["name"] for e in entries}) >= max_clips:
            break
    if not entries:
        raise ValueError(f"Motion-X test split under {str(src)!r}: no captioned clip of {min_seconds}-{max_seconds} s")
    return entries
