"""Music and audio inputs (SPEC A11, B 5.4): 35-d EDGE-baseline features and 18 kHz waveforms.

Music features, 30 per second (hop 512 at 15 360 Hz), reproducing EDGE's `audio_extraction/
baseline_features.py` (github.com/Stanford-TML/EDGE):
    [0]      onset strength envelope
    [1:21]   MFCC, 20 coefficients
    [21:33]  chroma CENS, 12 bins
    [33]     onset peaks, one-hot
    [34]     beats, one-hot (beat_track with tightness 100, started at the estimated tempo)
Needs the `audio` extra (librosa, soundfile).
"""

from __future__ import annotations

import os

import numpy as np

from genmo_jax.data import schema

HOP_LENGTH = 512
FEATURE_RATE = int(schema.FPS * HOP_LENGTH)   # 15 360 Hz: one hop = one 30-fps frame


def _librosa():
    try:
        import librosa
    except ImportError as error:
        raise ImportError("music features need librosa: pip install 'genmo-jax[audio]'") \
            from error
    return librosa


def music_features(waveform: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono waveform -> (T, 35) float32 features at 30 fps, T = ceil(duration * 30)."""
    librosa = _librosa()
    waveform = np.asarray(waveform, np.float32)
    if waveform.ndim != 1:
        raise ValueError(f"waveform must be mono (N,), got shape {waveform.shape}")
    if sample_rate != FEATURE_RATE:
        waveform = librosa.resample(waveform, orig_sr=sample_rate, target_sr=FEATURE_RATE)
    rate = FEATURE_RATE
    envelope = librosa.onset.onset_strength(y=waveform, sr=rate)            # (T,)
    mfcc = librosa.feature.mfcc(y=waveform, sr=rate, n_mfcc=20).T           # (T, 20)
    chroma = librosa.feature.chroma_cens(y=waveform, sr=rate, hop_length=HOP_LENGTH,
                                         n_chroma=12).T                     # (T, 12)
    num = envelope.shape[0]
    peaks = librosa.onset.onset_detect(onset_envelope=envelope, sr=rate, hop_length=HOP_LENGTH)
    peak_onehot = np.zeros(num, np.float32)
    peak_onehot[peaks[peaks < num]] = 1.0
    tempo_fn = getattr(librosa.feature, "tempo", None) or librosa.beat.tempo
    start_bpm = float(np.asarray(tempo_fn(onset_envelope=envelope, sr=rate,
                                          hop_length=HOP_LENGTH)).reshape(-1)[0])
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=rate, hop_length=HOP_LENGTH,
                                       start_bpm=start_bpm, tightness=100)
    beat_onehot = np.zeros(num, np.float32)
    beat_onehot[beats[beats < num]] = 1.0
    num = min(num, mfcc.shape[0], chroma.shape[0])
    features = np.concatenate([envelope[:num, None], mfcc[:num], chroma[:num],
                               peak_onehot[:num, None], beat_onehot[:num, None]], axis=-1)
    return features.astype(np.float32)


def load_waveform(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Mono float32 waveform of a wav/mp3 file resampled to `sample_rate`."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"audio file {str(path)!r} not found")
    if str(path).lower().endswith(".wav"):
        import soundfile  # wav at any rate: read directly, resample with soxr (no numba JIT)

        waveform, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
        waveform = waveform.mean(axis=1)
        if rate != sample_rate:
            waveform = _librosa().resample(waveform, orig_sr=rate, target_sr=sample_rate)
        return np.asarray(waveform, np.float32)
    waveform, _ = _librosa().load(str(path), sr=sample_rate, mono=True)
    return waveform.astype(np.float32)


def fit_frames(array: np.ndarray, num_frames: int) -> np.ndarray:
    """Crops or zero-pads axis 0 to `num_frames` (music that ends before the motion is silent)."""
    if array.shape[0] >= num_frames:
        return array[:num_frames]
    pad = [(0, num_frames - array.shape[0])] + [(0, 0)] * (array.ndim - 1)
    return np.pad(array, pad)


def load_music_features(path: str | os.PathLike, num_frames: int) -> np.ndarray:
    """(num_frames, 35) features of a music file, aligned with frame 0 of the motion."""
    return fit_frames(music_features(load_waveform(path, FEATURE_RATE), FEATURE_RATE),
                      num_frames)


def load_audio(path: str | os.PathLike, num_frames: int) -> np.ndarray:
    """(num_frames * 600,) waveform at 18 kHz (SPEC A11: 600 samples per 30-fps frame)."""
    waveform = load_waveform(path, schema.AUDIO_RATE)
    return fit_frames(waveform, num_frames * schema.AUDIO_SAMPLES_PER_FRAME)
