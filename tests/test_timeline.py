"""Timeline validation: good specs load, each mistake is reported naming its item."""

import json

import numpy as np
import pytest

from genmo_jax import timeline as tlm


def test_two_caption_timeline_in_seconds():
    tl = tlm.parse_timeline({"seconds": 8, "texts": [{"text": "walk", "start": 0, "end": 4},
                                                      {"text": "turn left", "start": 3.5, "end": 8}]})
    assert tl.num_frames == 240
    assert [(t.start_frame, t.end_frame) for t in tl.texts] == [(0, 120), (105, 240)]  # overlap kept
    assert tl.guidance_scale == 2.5 and tl.ddim_steps == 50


def test_every_mistake_is_listed_with_its_item(tmp_path):
    np.save(tmp_path / "kp.npy", np.zeros((10, 17, 2)))
    spec = {"frames": 100, "texts": [{"text": "walk", "start_frame": 50, "end_frame": 130}, {"text": ""}],
            "music": {"file": "missing.wav"}, "keypoints": {"file": "kp.npy"}, "ddim_steps": 0, "colour": 1}
    with pytest.raises(tlm.TimelineError) as e:
        tlm.parse_timeline(spec, str(tmp_path))
    msg = str(e.value)
    assert "texts[0] ('walk'): window ends at frame 130, past the motion's 100 frames" in msg
    assert "texts[1]: needs a non-empty 'text'" in msg
    assert "music: file not found" in msg and "missing.wav" in msg
    assert "keypoints: expected (frames, 17, 3)" in msg
    assert "'ddim_steps' must be in 1..1000" in msg
    assert "unknown key 'colour'" in msg


def test_keypoints_from_detector_json_and_bbox(tmp_path):
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(400, 600, (30, 17, 2)), np.ones((30, 17, 1))], -1)
    kp[5, :, 2] = 0.0  # a frame with no detection reuses the previous box
    (tmp_path / "kp.json").write_text(json.dumps([{"keypoints": k.reshape(-1).tolist()} for k in kp]))
    tl = tlm.parse_timeline({"frames": 30, "keypoints": {"file": "kp.json"}, "estimation": True}, str(tmp_path))
    np.testing.assert_allclose(tl.keypoints, kp, atol=1e-4)
    expected_size = (kp[0, :, :2].max(0) - kp[0, :, :2].min(0)).max() * 1.2
    assert tl.bbox[0, 2] == pytest.approx(expected_size, rel=1e-5)
    np.testing.assert_array_equal(tl.bbox[5], tl.bbox[4])
    np.testing.assert_allclose(tl.intrinsics, [[1000, 0, 500], [0, 1000, 500], [0, 0, 1]])


def test_estimation_needs_2d_input():
    with pytest.raises(tlm.TimelineError, match="estimation"):
        tlm.parse_timeline({"frames": 30, "estimation": True})


def test_timeline_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text("{not json")
    with pytest.raises(tlm.TimelineError, match="t.json: invalid JSON"):
        tlm.read_timeline_file(str(bad))
    with pytest.raises(tlm.TimelineError, match="nope.json: timeline file not found"):
        tlm.read_timeline_file(str(tmp_path / "nope.json"))
