"""Grain pipeline: fixed-shape batches, weighted mix, process sharding, exact resume, errors."""

import ml_collections
import numpy as np
import pytest

from genmo_jax.data import fixtures, pipeline, shards
from genmo_jax.data.converters import common

WINDOW = 16


def clip(name, length, seed, **extra):
    rng = np.random.default_rng(seed)
    return common.world_record(
        source="unit", name=name, rest_joints_fn=fixtures.synthetic_rest_joints,
        body_pose=rng.normal(size=(length, 63)) * 0.1,
        global_orient=rng.normal(size=(length, 3)) * 0.1,
        transl=np.cumsum(np.full((length, 3), 0.01), 0),
        betas=np.full(10, 0.01 * seed),   # betas identify the clip in the tests
        **extra)


@pytest.fixture(scope="module")
def shard_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    shards.write_records(root / "walks", "walks", [
        clip(f"w{i}", 10 + 7 * i, seed=i, caption_text=[f"walk {i}", f"turn {i}"],
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
    c.data.simulation = ml_collections.ConfigDict()
    c.data.dataset_simulation = ml_collections.ConfigDict({"walks": {"camera": "static"}})
    c.data.num_workers = num_workers
    c.data.read_threads = 1
    c.data.read_buffer = 4
    return c


def take(iterator, count):
    return [next(iterator) for _ in range(count)]


def test_batches_have_fixed_shapes_and_follow_the_weights(shard_dirs):
    config = make_config(shard_dirs, weights={"walks": 3.0, "dances": 1.0})
    iterator = pipeline.make_iterator(config, process_index=0, process_count=1)
    batches = take(iterator, 24)
    for batch in batches[:3]:
        assert batch["body_pose"].shape == (4, WINDOW, 63)
        assert batch["joints_w"].shape == (4, WINDOW, 24, 3)
        assert batch["music_feat"].shape == (4, WINDOW, 35)
        assert batch["caption_text"].shape == (4, 4) and batch["length"].dtype == np.int32
        assert batch["obs"].shape == (4, WINDOW, 17, 3)
    dataset = np.concatenate([b["dataset"] for b in batches])
    fraction_walks = np.mean(dataset == 0)
    assert abs(fraction_walks - 0.75) < 0.1
    has_music = np.concatenate([b["has_music_mask"].any(1) for b in batches])
    np.testing.assert_array_equal(has_music, dataset == 1)
    # Dances carry their dataset camera (-1); walks get the configured static camera (0).
    camera_type = np.concatenate([b["camera_type"] for b in batches])
    np.testing.assert_array_equal(camera_type, np.where(dataset == 1, -1, 0))
    # Caption strings are the record's captions picked by caption_id.
    for batch in batches[:5]:
        for row in np.flatnonzero(batch["dataset"] == 0):
            clip_id = int(round(batch["betas"][row, 0, 0] * 100))
            for slot, index in enumerate(batch["caption_id"][row]):
                expected = "" if index < 0 else ["walk", "turn"][index] + f" {clip_id}"
                assert batch["caption_text"][row, slot] == expected


def test_dataset_recipes_and_overrides_merge_in_order():
    data = ml_collections.ConfigDict({"window": 48, "simulation": {"noise": False},
                                      "dataset_simulation": {"humanml3d": {"noise": True}}})
    assert pipeline.simulation_config(data, "humanml3d") == {
        "camera": "static", "speed_augmentation": False, "noise": True, "length": 48}
    assert pipeline.simulation_config(data, "amass") == {"noise": False, "length": 48}


@pytest.mark.parametrize("process_count", [2, 4])
def test_local_batches_are_row_blocks_of_the_single_process_batch(shard_dirs, process_count):
    """Process p's batch = rows [p B / P, (p + 1) B / P) of the one-process global batch of the
    same step, bitwise: training does not depend on the number of hosts."""
    config = make_config(shard_dirs, batch_size=4)
    steps = 3
    single = take(pipeline.make_iterator(config, 4, process_index=0, process_count=1), steps)
    local = [take(pipeline.make_iterator(config, 4 // process_count, process_index=p,
                                         process_count=process_count), steps)
             for p in range(process_count)]
    for step in range(steps):
        for key, value in single[step].items():
            joined = np.concatenate([local[p][step][key] for p in range(process_count)])
            assert joined.dtype == value.dtype, key
            np.testing.assert_array_equal(joined, value, err_msg=f"{key} at step {step}")
    # the global stream still walks through every clip of an epoch
    walks = make_config(shard_dirs, batch_size=2, datasets=["walks"])
    seen = [int(round(b["betas"][r, 0, 0] * 100)) for b in
            take(pipeline.make_iterator(walks, 1, process_index=0, process_count=2), 3)
            + take(pipeline.make_iterator(walks, 1, process_index=1, process_count=2), 3)
            for r in range(1)]
    assert sorted(seen) == list(range(6))                        # epoch 0: disjoint, complete


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
    config.data.simulation.warp_speed = 9
    with pytest.raises(ValueError, match="warp_speed"):
        pipeline.make_dataset(config, process_index=0, process_count=1)


def test_a_checkpoint_restores_into_a_recipe_with_another_dataset(shard_dirs):
    walks_only = make_config(shard_dirs, datasets=["walks"])
    iterator = pipeline.make_iterator(walks_only, process_index=0, process_count=1)
    take(iterator, 2)
    state = iterator.get_state()
    continued = take(iterator, 2)                            # 8 more walks samples
    bigger = make_config(shard_dirs, datasets=["dances", "walks"])   # walks moves to index 1
    mixed = pipeline.make_iterator(bigger, process_index=0, process_count=1)
    mixed.set_state(state)                                   # state is keyed by dataset name
    batches = take(mixed, 4)
    walks = np.concatenate([b["joints_w"][b["dataset"] == 1] for b in batches])
    expected = np.concatenate([b["joints_w"] for b in continued])
    assert walks.shape[0] >= 4
    np.testing.assert_array_equal(walks[:4], expected[:4])   # walks continue where they were
