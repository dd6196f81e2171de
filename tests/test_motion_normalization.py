"""Normalisation statistics: masked mean/std, streaming accumulation, files, clip_std."""

import jax.numpy as jnp
import numpy as np
import pytest

from genmo_jax.motion.normalization import (
    MIN_STD,
    StatsAccumulator,
    compute_stats,
    denormalize,
    load_stats,
    normalize,
    save_stats,
)


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(loc=3.0, scale=rng.uniform(0.1, 4.0, 151), size=(4, 50, 151))
    mask = rng.random((4, 50)) < 0.7
    return x, mask


def test_masked_stats_match_numpy_and_streaming():
    x, mask = _data()
    stats = compute_stats(x, mask)
    np.testing.assert_allclose(np.asarray(stats.mean), x[mask].mean(0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(stats.std), x[mask].std(0), rtol=1e-5)
    acc = StatsAccumulator(151)
    for i in range(4):  # one "shard" at a time
        acc.add(x[i], mask[i])
    streamed = acc.result()
    np.testing.assert_allclose(np.asarray(streamed.mean), np.asarray(stats.mean), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(streamed.std), np.asarray(stats.std), rtol=1e-5)


def test_save_load_normalize_round_trip(tmp_path):
    x, mask = _data()
    stats = compute_stats(x, mask)
    path = tmp_path / "stats.npz"
    save_stats(path, stats)
    loaded = load_stats(path, dim=151)
    np.testing.assert_array_equal(np.asarray(loaded.mean), np.asarray(stats.mean))
    xj = jnp.asarray(x, jnp.float32)
    for clip in (True, False):
        np.testing.assert_allclose(np.asarray(denormalize(normalize(xj, loaded, clip), loaded, clip)), x, atol=1e-4)
    # clip_std: dims with std < 1 are only mean-subtracted, the others divided by std.
    normed = np.asarray(normalize(xj, loaded))
    std = np.asarray(loaded.std)
    small = std < 1
    np.testing.assert_allclose(normed[..., small], x[..., small] - np.asarray(loaded.mean)[small], atol=1e-4)
    np.testing.assert_allclose(normed[..., ~small], (x[..., ~small] - np.asarray(loaded.mean)[~small]) / std[~small], atol=1e-4)
    # Without clipping, the valid frames have zero mean and unit std.
    unclipped = np.asarray(normalize(xj, loaded, clip_std=False))[mask]
    np.testing.assert_allclose(unclipped.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(unclipped.std(0), 1.0, atol=1e-4)


def test_unclipped_std_is_floored_for_dims_the_data_never_moves():
    """A constant dimension (std 0: feet and hands of the procedural world) must not be divided
    by ~0, a barely moving one is scaled by the floor, the others by their own std."""
    rng = np.random.default_rng(1)
    x = np.zeros((200, 3))
    x[:, 0] = 0.7                                    # constant
    x[:, 1] = rng.normal(0.0, 0.003, 200)            # below the floor (lateral root velocity)
    x[:, 2] = rng.normal(0.02, 0.03, 200)            # above it (forward root velocity)
    stats = compute_stats(x)
    normed = np.asarray(normalize(jnp.asarray(x, jnp.float32), stats, clip_std=False))
    std = np.asarray(stats.std)
    assert std[0] < 1e-6 and std[1] < MIN_STD < std[2]
    np.testing.assert_allclose(normed[:, 0], 0.0, atol=1e-3)
    np.testing.assert_allclose(normed[:, 1], (x[:, 1] - x[:, 1].mean()) / MIN_STD, atol=1e-3)
    np.testing.assert_allclose(normed[:, 2].std(), 1.0, atol=1e-3)
    # a value off the constant stays O(1 / MIN_STD), not O(1e6)
    moved = np.asarray(normalize(jnp.asarray([[0.71, 0.0, 0.02]]), stats, clip_std=False))
    np.testing.assert_allclose(moved[0, 0], 0.01 / MIN_STD, rtol=1e-3)
    np.testing.assert_allclose(np.asarray(denormalize(jnp.asarray(normed), stats, clip_std=False)), x,
                               atol=1e-5)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_stats(tmp_path / "missing.npz")
    np.savez(tmp_path / "nomean.npz", std=np.ones(151))
    with pytest.raises(ValueError, match="nomean.npz.*'mean'"):
        load_stats(tmp_path / "nomean.npz")
    np.savez(tmp_path / "short.npz", mean=np.zeros(150), std=np.ones(150))
    with pytest.raises(ValueError, match="short.npz"):
        load_stats(tmp_path / "short.npz", dim=151)
    with pytest.raises(ValueError, match="no valid frames"):
        compute_stats(np.zeros((3, 151)), np.zeros(3, bool))
