"""Music features (SPEC A11) on synthetic click tracks with a known tempo; 18 kHz audio."""

import numpy as np
import pytest

from genmo_jax.data import fixtures, schema

librosa = pytest.importorskip("librosa")
pytest.importorskip("soundfile")
from genmo_jax.data import music  # noqa: E402

pytestmark = pytest.mark.slow  # librosa's numba JIT costs ~20 s on a cold cache


def test_click_track_features_have_beats_at_the_tempo():
    seconds, bpm = 8.0, 120.0
    features = music.music_features(fixtures.click_track(seconds, bpm), 22050)
    assert features.shape[1] == 35 and features.dtype == np.float32
    assert abs(features.shape[0] - seconds * schema.FPS) <= 2          # 30 feature frames / s
    beats = np.flatnonzero(features[:, 34])
    peaks = np.flatnonzero(features[:, 33])
    assert set(np.unique(features[:, 33:])) <= {0.0, 1.0}
    # 120 BPM = one beat every 15 frames at 30 fps.
    assert len(beats) >= 10 and abs(np.median(np.diff(beats)) - 15) <= 1
    # Onset peaks sit on the clicks (every 15 frames, from frame 0).
    click_frames = np.arange(0, seconds * 30, 15)
    distance = np.abs(peaks[:, None] - click_frames[None]).min(1)
    assert len(peaks) >= 10 and np.median(distance) <= 1
    # The envelope peaks within a frame of every click (librosa's onset lag is one frame).
    envelope = features[:, 0]
    near_click = [envelope[c - 1:c + 2].max() for c in click_frames.astype(int)[1:-1]]
    assert min(near_click) > 100 * np.median(envelope) + 1.0


def test_load_audio_is_18khz_with_600_samples_per_frame(tmp_path):
    path = tmp_path / "tone.wav"
    fixtures.write_click_track(path, seconds=2.0, bpm=60, rate=16000)
    audio = music.load_audio(path, num_frames=90)                      # 3 s > 2 s: zero-padded
    assert audio.shape == (90 * 600,)
    assert np.abs(audio[2 * 18000 + 100:]).max() == 0
    assert np.abs(audio[:18000]).max() > 0.5


def test_aistpp_views_share_the_music_features(tmp_path):
    from genmo_jax.data import convert, shards

    fixtures.write_aistpp(tmp_path / "aist", with_music=True)
    convert.convert("aistpp", str(tmp_path / "aist"), str(tmp_path / "out"),
                    rest_joints_fn=fixtures.synthetic_rest_joints, progress=False)
    records = list(shards.ShardSource(tmp_path / "out"))
    first = [r for r in records if "d04" in str(r["name"])]
    assert len(first) == 9
    for record in first:
        assert record["music_feat"].shape == (record["transl"].shape[0], 35)
        np.testing.assert_array_equal(record["music_feat"], first[0]["music_feat"])
    assert first[0]["music_feat"][:, 34].sum() >= 1
