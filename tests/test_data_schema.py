"""Record schema and ArrayRecord shards: round trip, validation errors, atomic resumable writes."""

import json
import pickle

import numpy as np
import pytest

from genmo_jax.data import schema, shards


def make_clip(name="clip0", length=7, seed=0, **extra):
    rng = np.random.default_rng(seed)
    return schema.make_record(
        source="unit", name=name,
        body_pose=rng.normal(size=(length, 63)) * 0.1,
        global_orient=rng.normal(size=(length, 3)) * 0.1,
        transl=rng.normal(size=(length, 3)),
        betas=rng.normal(size=10),
        joints_w=rng.normal(size=(length, 24, 3)),
        gender="female", **extra)


def test_round_trip_keeps_every_field_and_dtype():
    length = 5
    rng = np.random.default_rng(1)
    record = make_clip(
        length=length,
        K=np.tile(np.eye(3), (length, 1, 1)) * 1000, R_w2c=np.tile(np.eye(3), (length, 1, 1)),
        t_w2c=np.zeros((length, 3)), img_wh=(1920, 1080),
        kp2d=np.concatenate([rng.normal(size=(length, 17, 2)),
                             rng.uniform(size=(length, 17, 1))], -1),
        music_feat=rng.normal(size=(length, 35)), audio=rng.normal(size=length * 600),
        caption_text=["a person walks", "then turns left"], caption_window=[[0, 3], [3, 5]])
    data = schema.encode_record(record)
    back = schema.decode_record(data)
    assert set(back) == set(record)
    for key in record:
        np.testing.assert_array_equal(back[key], record[key])
        assert back[key].dtype == record[key].dtype
    assert str(back["caption_text"][1]) == "then turns left"
    assert back["mask_camera"].all() and back["mask_kp2d"].shape == (length,)
    assert schema.num_frames(back) == length


@pytest.mark.parametrize("field,value,message", [
    ("body_pose", np.zeros((7, 60), np.float32), "shape"),
    ("joints_w", np.full((7, 24, 3), np.nan, np.float32), "NaN"),
    ("gender", np.asarray("other"), "expected one of"),
    ("fps", np.float32(25), "fps"),
    ("transl", np.zeros((7, 3), np.float64), "dtype"),
    ("schema_version", np.int32(0), "re-run the converter"),
])
def test_validation_names_the_field(field, value, message):
    record = dict(make_clip())
    record[field] = value
    with pytest.raises(schema.RecordError, match=f"'{field}'.*{message}"):
        schema.validate_record(record)


def test_unknown_missing_and_partial_group_fields_are_rejected():
    record = dict(make_clip())
    with pytest.raises(schema.RecordError, match="'bodypose'"):
        schema.validate_record({**record, "bodypose": record["body_pose"]})
    del record["betas"]
    with pytest.raises(schema.RecordError, match="'betas'.*missing"):
        schema.validate_record(record)
    with pytest.raises(schema.RecordError, match="caption_window"):
        schema.validate_record({**make_clip(), "caption_text": np.asarray(["x"])})
    with pytest.raises(schema.RecordError, match="caption_window"):
        make_clip(caption_text=["x"], caption_window=[[3, 99]])


def test_shards_round_trip_and_resume(tmp_path):
    clips = [make_clip(f"c{i}", length=3 + i, seed=i) for i in range(5)]
    with shards.ShardWriter(tmp_path, "unit", records_per_shard=2) as writer:
        for clip in clips[:3]:
            writer.add(clip)
    # Re-opening resumes: finished names are known, new shards continue the numbering.
    writer = shards.ShardWriter(tmp_path, "unit", records_per_shard=2)
    assert writer.done_names == {"c0", "c1", "c2"}
    for clip in clips[3:]:
        writer.add(clip)
    writer.close()
    index = json.loads((tmp_path / "index.json").read_text())
    assert [s["num_records"] for s in index["shards"]] == [2, 1, 2]
    source = shards.ShardSource(tmp_path)
    assert len(source) == 5 and source.names == [f"c{i}" for i in range(5)]
    np.testing.assert_array_equal(source.num_frames, [3, 4, 5, 6, 7])
    source = pickle.loads(pickle.dumps(source))  # grain workers receive a pickled copy
    for i, clip in enumerate(clips):
        np.testing.assert_array_equal(source[i]["joints_w"], clip["joints_w"])
    with pytest.raises(ValueError, match="twice"):
        shards.ShardWriter(tmp_path, "unit").add(clips[0])


def test_interrupted_write_leaves_no_readable_shard(tmp_path):
    with pytest.raises(RuntimeError):
        with shards.ShardWriter(tmp_path, "unit", records_per_shard=10) as writer:
            writer.add(make_clip("a"))
            raise RuntimeError("killed")
    assert not (tmp_path / "index.json").exists()
    assert not list(tmp_path.glob("*.array_record"))
    with pytest.raises(FileNotFoundError, match="index.json"):
        shards.ShardSource(tmp_path)
    with pytest.raises(FileNotFoundError, match="does-not-exist"):
        shards.ShardSource(tmp_path / "does-not-exist")


def test_corrupt_record_error_names_shard_index_and_field(tmp_path):
    from array_record.python import array_record_module

    good = make_clip("good")
    bad = dict(make_clip("bad"))
    bad["transl"] = bad["transl"][:3]  # wrong length, written behind the validator's back
    path = tmp_path / "unit-00000.array_record"
    writer = array_record_module.ArrayRecordWriter(str(path), "group_size:1")
    writer.write(schema.encode_record(good))
    writer.write(schema.encode_record(bad))
    writer.write(b"not an npz")
    writer.close()
    (tmp_path / "index.json").write_text(json.dumps({
        "schema_version": schema.SCHEMA_VERSION, "dataset": "unit",
        "shards": [{"file": path.name, "num_records": 3, "names": ["good", "bad", "junk"],
                    "num_frames": [7, 7, 7]}]}))
    source = shards.ShardSource(tmp_path)
    assert str(source[0]["name"]) == "good"
    with pytest.raises(schema.RecordError, match=r"unit-00000.array_record.*record 1.*'transl'"):
        source[1]
    with pytest.raises(schema.RecordError, match=r"unit-00000.array_record.*record 2"):
        source[2]
