"""Dance clips: moves locked to a beat grid, and synthetic music with the same beats.

A dance clip draws a tempo (90-130 BPM) and a first-beat frame, then chains 2-3 dance segments
of whole bars (styles: step-touch, arm-pumping bounce, marching in place, twisting). Every style
bounces the pelvis down on each beat and lands its steps on beats. `synthesize_music` renders a
waveform (kick on every beat, clap on beats 2 and 4, hi-hat on eighths, a bass/chord pad that
changes every bar) at `MUSIC_RATE` = 15 360 Hz, the rate of the 35-d music features (one hop of
512 samples per 30-fps frame), so `genmo_jax.data.music.music_features` reads it unresampled.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from genmo_jax.data.procedural import captions as cap
from genmo_jax.data.procedural import motions as mo
from genmo_jax.data.procedural import plan as pl
from genmo_jax.data.procedural import skeleton as sk

MUSIC_RATE = 15360
STYLES = ("step_touch", "bounce", "march", "twist")   # same order as the "dance" captions


def _beat_wave(frames, beats, period):
    """(n,) in [0, 1], 1 exactly on beats, 0 half-way between (cosine)."""
    phase = (frames[:, None] - beats[None, :]) / period
    nearest = np.min(np.abs(phase), axis=1)
    return 0.5 + 0.5 * np.cos(2 * np.pi * np.minimum(nearest, 0.5))


def dance_segment(skeleton, rng, state, num_frames, beats, period, style, first):
    """One dance segment; beats: beat frames relative to the segment start."""
    n = num_frames
    frames = np.arange(n, dtype=np.float64)
    on_beat = _beat_wave(frames, beats, period)
    pelvis_dy = -rng.uniform(0.035, 0.07) * on_beat
    tilt = np.zeros((n, 3))
    upper = mo.idle_upper(rng, n)
    upper[:, sk.NECK, 0] += 0.12 * on_beat
    _, left = pl.heading_vectors(np.asarray(state.heading))
    left3 = np.array([left[0], 0.0, left[1]])
    steps = []
    usable = [float(b) for b in beats if b - 0.45 * period >= 1 and b <= n - 1]
    if style == "step_touch":
        ankle_now = state.ankle.copy()
        out_side = int(rng.integers(2))
        for k, beat in enumerate(usable):
            phase = k % 4
            side = out_side if phase in (0, 3) else 1 - out_side
            outward = left3 if side == 0 else -left3
            if phase in (0, 2):      # step out, away from the other foot
                target = ankle_now[side] + 0.3 * outward
            else:                    # close next to the other foot
                target = ankle_now[1 - side] + 2 * mo.STANCE_HALF_WIDTH * outward
            target = target.copy()
            target[1] = skeleton.ankle_height
            steps.append(pl.Step(side=side, lift=beat - 0.45 * period, land=beat, target=target,
                                 yaw=state.foot_yaw[side], height=0.07))
            ankle_now[side] = target
        for side in (0, 1):
            mo.set_arms(upper, side, np.full(n, mo.ARM_DOWN - 0.2), 0.3 + 0.3 * on_beat,
                        np.full(n, 1.0))
    elif style == "march":
        for k, beat in enumerate(usable):
            side = k % 2
            steps.append(pl.Step(side=side, lift=beat - 0.45 * period, land=beat,
                                 target=state.ankle[side].copy(), yaw=state.foot_yaw[side],
                                 height=0.12))
        for side in (0, 1):
            swing = 0.5 * np.cos(np.pi * (frames - (beats[0] if len(beats) else 0)) / period
                                 + np.pi * side)
            mo.set_arms(upper, side, np.full(n, mo.ARM_DOWN), swing, np.full(n, 1.2))
    elif style == "bounce":
        for side in (0, 1):
            pump = 0.5 + 0.5 * np.cos(np.pi * (frames - (beats[0] if len(beats) else 0)) / period
                                      + np.pi * side)
            mo.set_arms(upper, side, mo.ARM_DOWN - 1.6 * pump, 0.3 + 0.4 * pump,
                        0.6 + 0.6 * pump)
    elif style == "twist":
        twist = 0.3 * np.cos(np.pi * (frames - (beats[0] if len(beats) else 0)) / period)
        tilt[:, 1] = twist
        upper[:, sk.SPINE3, 1] = -0.6 * twist
        for side in (0, 1):
            mo.set_arms(upper, side, np.full(n, 0.9), np.full(n, 0.4), np.full(n, 1.4))
    else:
        raise ValueError(f"unknown dance style {style!r}; expected one of {STYLES}")
    feet = pl.feet_from_steps(skeleton, n, state.ankle, state.foot_yaw, steps)
    ankle = feet[0]
    centre = 0.5 * (ankle[:, 0, [0, 2]] + ankle[:, 1, [0, 2]])
    start_centre = 0.5 * (state.ankle[0, [0, 2]] + state.ankle[1, [0, 2]])
    root = state.root_xz + gaussian_filter1d(centre - start_centre, 4.0, axis=0, mode="nearest")
    caption = cap.make_caption("dance", rng, first, variant=STYLES.index(style))
    return mo.build_segment(state, root, np.full(n, state.heading), pelvis_dy, tilt, feet, upper,
                       "dance", caption)


def synthesize_music(rng, num_frames, beat_frames, period):
    """Waveform (num_frames * 512,) float32 in [-1, 1] at MUSIC_RATE with drum hits on
    `beat_frames` (30-fps frames) and a chord pad changing every 4 beats."""
    rate = MUSIC_RATE
    total = int(round(num_frames / pl.FPS * rate))
    t = np.arange(total) / rate
    wave = np.zeros(total)
    beat_seconds = np.asarray(beat_frames, np.float64) / pl.FPS
    period_s = period / pl.FPS

    def add(start_s, signal):
        start = int(round(start_s * rate))
        if start >= total or start + len(signal) <= 0:
            return
        lo = max(start, 0)
        hi = min(start + len(signal), total)
        wave[lo:hi] += signal[lo - start: hi - start]

    kick_t = np.arange(int(0.18 * rate)) / rate
    kick = np.sin(2 * np.pi * (45 * kick_t + 75 / 18 * (1 - np.exp(-18 * kick_t)))) \
        * np.exp(-kick_t / 0.06)
    clap_t = np.arange(int(0.12 * rate)) / rate
    hat_t = np.arange(int(0.04 * rate)) / rate
    for index, beat in enumerate(beat_seconds):
        add(beat, 0.9 * kick)
        if index % 2 == 1:
            add(beat, 0.35 * rng.standard_normal(len(clap_t)) * np.exp(-clap_t / 0.03))
        for offset in (0.0, 0.5):
            noise = np.diff(rng.standard_normal(len(hat_t) + 1))
            add(beat + offset * period_s, 0.08 * noise * np.exp(-hat_t / 0.01))
    chords = ((110.0, 138.6, 164.8), (98.0, 123.5, 146.8), (87.3, 110.0, 130.8),
              (82.4, 103.8, 123.5))
    order = rng.permutation(len(chords))
    bar_starts = beat_seconds[::4] if len(beat_seconds) else np.array([0.0])
    for bar, start in enumerate(bar_starts):
        chord = chords[order[bar % len(chords)]]
        length = int(4 * period_s * rate)
        tone_t = np.arange(length) / rate
        envelope = np.minimum(tone_t / 0.02, 1.0) * np.exp(-tone_t / (2 * period_s))
        tone = sum(np.sin(2 * np.pi * f * tone_t) + 0.3 * np.sin(4 * np.pi * f * tone_t)
                   for f in chord)
        add(start, 0.08 * envelope * tone)
    del t
    return (0.9 * wave / max(np.abs(wave).max(), 1e-9)).astype(np.float32)


def generate_dance_clip(rng: np.random.Generator, skeleton):
    """A dance clip (see `world.generate_clip` for the keys) with `music` (N,) float32 at
    `music_rate` Hz and `beat_frames` (B,) float frames of the beats the motion follows."""
    from genmo_jax.data.procedural import world  # world imports this module

    bpm = rng.uniform(90.0, 130.0)
    period = 60.0 * pl.FPS / bpm
    first_beat = rng.uniform(6.0, 15.0)
    state = world.initial_state(skeleton, rng)
    bars = [int(rng.choice([2, 3])) for _ in range(int(rng.integers(2, 4)))]
    num_beats = 4 * sum(bars)
    total = int(np.ceil(first_beat + num_beats * period))
    all_beats = first_beat + period * np.arange(num_beats + 1)
    segments, start = [], 0
    for index, num_bars in enumerate(bars):
        end = total if index == len(bars) - 1 else int(round(all_beats[4 * sum(bars[:index + 1])]))
        style = STYLES[int(rng.integers(len(STYLES)))]
        beats = all_beats[(all_beats >= start) & (all_beats < end)] - start
        segment = dance_segment(skeleton, rng, state, end - start, beats, period, style,
                                first=index == 0)
        segments.append(segment)
        state, start = segment.end, end
    beat_frames = all_beats[all_beats < total]
    music = synthesize_music(rng, total, beat_frames, period)
    return world.finish_clip(skeleton, segments, music=music, music_rate=np.int32(MUSIC_RATE),
                             beat_frames=beat_frames)
