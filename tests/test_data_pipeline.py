"""Grain pipeline: fixed-shape batches, weighted mix, process sharding, exact resume, errors."""

import ml_collections
import numpy as np
import pytest

from genmo_jax.data import pipeline, schema, shards

WINDOW = 16


def clip(name, length, seed, **extra):
    rng = np.random.default_rng(seed)
    return schema.make_record(
        source="unit", name=name, body_pose=rng.normal(size=(length, 63)) * 0.1,
        global_orient=rng.normal(size=(length, 3)) * 0.1,
        transl=np.cumsum(np.full((length, 3), 0.01), 0),
        betas=np.full(10, float(seed)),   # betas identify the clip in the tests
        joints_w=rng.normal(size=(length, 24, 3)), **extra)


@pytest.fixture(scope="module")
def shard_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    shards.write_records(root / "walks", "walks", [
        clip(f"w{i}", 10 + 7 * i, seed=i, caption_text=["walk", "turn"],
             caption_window=[[0, 5], [5, 10 + 7 * i]]) for i in range(6)], records_per_shard=4)
    shards.write_records(root / "dances", "dances", [
        clip(f"d{i}", 40, seed=100 + i, music_feat=np.ones((40, 35)),
             K=np.tile(np.eye(3), (40, 1, 1)), R_w2c=np.tile(np.eye(3), (40, 1, 1)),
             t_w2c=np.zeros((40, 3)), img_wh=(64, 48)) for i in range(3)])
    return {"walks": str(root / "walks"), "dances": str(root / "dances")}


def make_config(shard_dirs, weights=None, num_workers=0, batch_size=4, datasets=None):
    c = ml_collections.ConfigDict()
    c.seed = 7
    c.data = ml_collections.ConfigDict()
    c.data.datasets = tuple(datasets or shard_dirs)
    c.data.shard_dirs = ml_collections.ConfigDict(shard_dirs)
    c.data.weights = ml_collections.ConfigDict(weights or {k: 1.0 for k in shard_dirs})
    c.data.batch_size = batch_size
    c.data.window = WINDOW
    c.data.transform = "crop"
    c.data.max_captions = 2
    c.data.audio = False
    c.data.num_workers = num_workers
    c.data.read_threads = 1
    c.data.read_buffer = 4
    return c


def take(iterator, count):
    return [next(iterator) for _ in range(count)]


def test_crop_pads_short_clips_and_shifts_caption_windows():
    record = clip("short", 10, seed=1, caption_text=["a", "b", "c"],
                  caption_window=[[0, 4], [4, 10], [2, 3]])
    sample = pipeline.crop_sample(record, np.random.default_rng(0), WINDOW, max_captions=4,
                                  with_audio=True)
    assert sample["length"] == 10 and sample["mask_valid"].sum() == 10
    np.testing.assert_array_equal(sample["transl"][10:], np.repeat(record["transl"][-1:], 6, 0))
    assert not sample["mask_world"][10:].any() and sample["mask_world"][:10].all()
    assert list(sample["caption_text"][:3]) == ["a", "b", "c"] and sample["num_captions"] == 3
    assert sample["audio"].shape == (WINDOW * 600,) and not sample["has_audio"]
    long = clip("long", 100, seed=2, caption_text=["x", "y"], caption_window=[[0, 50],
                                                                              [50, 100]])
    for seed in range(5):
        sample = pipeline.crop_sample(long, np.random.default_rng(seed), WINDOW)
        start = int(np.argmin(np.abs(long["transl"][:, 0] - sample["transl"][0, 0])))
        np.testing.assert_array_equal(sample["body_pose"], long["body_pose"][start:start + 16])
        windows = sample["caption_window"][:sample["num_captions"]]
        expected = np.clip(long["caption_window"] - start, 0, WINDOW)
        expected = expected[expected[:, 1] > expected[:, 0]]
        np.testing.assert_array_equal(windows, expected)


def test_batches_have_fixed_shapes_and_follow_the_weights(shard_dirs):
    config = make_config(shard_dirs, weights={"walks": 3.0, "dances": 1.0})
    iterator = pipeline.make_iterator(config, process_index=0, process_count=1)
    batches = take(iterator, 40)
    for batch in batches[:3]:
        assert batch["body_pose"].shape == (4, WINDOW, 63)
        assert batch["joints_w"].shape == (4, WINDOW, 24, 3)
        assert batch["music_feat"].shape == (4, WINDOW, 35)
        assert batch["caption_text"].shape == (4, 2) and batch["length"].dtype == np.int32
    dataset = np.concatenate([b["dataset"] for b in batches])
    fraction_walks = np.mean(dataset == 0)
    assert abs(fraction_walks - 0.75) < 0.1
    dances = np.concatenate([b["has_music"] for b in batches])[dataset == 1]
    assert dances.all()
    has_camera = np.concatenate([b["has_camera"] for b in batches])
    np.testing.assert_array_equal(has_camera, dataset == 1)


def test_process_shards_partition_each_epoch(shard_dirs):
    config = make_config(shard_dirs, batch_size=1, datasets=["walks"])
    seen = []
    for process in range(2):
        iterator = pipeline.make_iterator(config, 1, process_index=process, process_count=2)
        seen.append([int(next(iterator)["betas"][0, 0]) for _ in range(3)])
    assert sorted(seen[0] + seen[1]) == list(range(6))          # epoch 0: disjoint, complete


@pytest.mark.parametrize("num_workers", [0, 1])
def test_restoring_the_iterator_state_continues_the_exact_sequence(shard_dirs, num_workers):
    config = make_config(shard_dirs, num_workers=num_workers)
    iterator = pipeline.make_iterator(config, process_index=0, process_count=1)
    try:
        take(iterator, 3)
        state = iterator.get_state()
        expected = take(iterator, 4)
    finally:
        getattr(iterator, "close", lambda: None)()
    restored = pipeline.make_iterator(config, process_index=0, process_count=1)
    try:
        restored.set_state(state)
        got = take(restored, 4)
    finally:
        getattr(restored, "close", lambda: None)()
    for a, b in zip(expected, got):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_missing_shard_directory_fails_at_start_with_the_path(shard_dirs, tmp_path):
    dirs = dict(shard_dirs, bedlam=str(tmp_path / "no_such_bedlam"))
    config = make_config(dirs)
    with pytest.raises(FileNotFoundError, match="no_such_bedlam"):
        pipeline.make_dataset(config, process_index=0, process_count=1)
    config = make_config(shard_dirs)
    config.data.weights.walks = 0.0
    with pytest.raises(ValueError, match="weights"):
        pipeline.make_dataset(config, process_index=0, process_count=1)
    config = make_config(shard_dirs)
    config.data.transform = "warp"
    with pytest.raises(ValueError, match="transform"):
        pipeline.make_dataset(config, process_index=0, process_count=1)
