"""Procedural motion world: determinism, foot contacts, FK/IK against references, and that each
motion does what its caption says."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from genmo_jax.data.procedural import captions as cap
from genmo_jax.data.procedural import dance, world
from genmo_jax.data.procedural import skeleton as sk

SKELETON = sk.RestSkeleton.smpl_like()
CONTACT_JOINTS = (7, 10, 8, 11)   # order of the (L, 4) contact channel


def _segment_clip(label, seed=0):
    rng = np.random.default_rng(seed)
    state = world.initial_state(SKELETON, rng)
    segments = [world.make_segment(SKELETON, rng, state, label, first=True)]
    return world.finish_clip(SKELETON, segments), state


def _max_planted_speed(clip):
    """Largest per-frame displacement (metres) of a joint on frames where it is planted."""
    joints, contact = clip["joints_w"], clip["contact"]
    worst = 0.0
    for k, joint in enumerate(CONTACT_JOINTS):
        step = np.linalg.norm(np.diff(joints[:, joint], axis=0), axis=-1)
        planted = contact[1:, k] & contact[:-1, k]
        if planted.any():
            worst = max(worst, float(step[planted].max()))
    return worst


def _yaw(global_orient):
    forward = Rotation.from_rotvec(global_orient).apply([0.0, 0.0, 1.0])
    return np.unwrap(np.arctan2(forward[:, 0], forward[:, 2]))


def test_same_seed_same_clip_and_different_seed_differs():
    a = world.generate_clip(np.random.default_rng(7), SKELETON)
    b = world.generate_clip(np.random.default_rng(7), SKELETON)
    c = world.generate_clip(np.random.default_rng(8), SKELETON)
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert a["transl"].shape != c["transl"].shape or not np.allclose(a["transl"], c["transl"])


@pytest.mark.parametrize("seed", range(6))
def test_feet_do_not_skate_when_planted(seed):
    clip = world.generate_clip(np.random.default_rng(seed), SKELETON, dance_prob=0.3)
    assert clip["contact"].any()
    assert _max_planted_speed(clip) < 0.01
    # planted feet rest on the floor (y = 0 is the ground; ankles a fixed height above it)
    ankles = clip["joints_w"][:, [7, 8], 1][clip["contact"][:, [0, 2]]]
    np.testing.assert_allclose(ankles, SKELETON.ankle_height, atol=1e-6)


def test_every_action_plants_its_feet_and_captions_parse():
    for label in world.ACTION_WEIGHTS:
        clip, _ = _segment_clip(label, seed=3)
        assert _max_planted_speed(clip) < 0.01, label
        assert cap.label_of_caption(str(clip["caption_text"][0])) == label
        assert np.all(np.isfinite(clip["body_pose"]))


def test_joints_match_fk_of_params():
    clip = world.generate_clip(np.random.default_rng(2), SKELETON)
    joints = sk.joints_from_params(SKELETON, clip["global_orient"], clip["body_pose"],
                                   clip["transl"])
    np.testing.assert_allclose(joints, clip["joints_w"], atol=1e-9)


def test_numpy_fk_matches_body_skeleton_forward():
    """Our numpy FK equals genmo_jax.body.smpl.skeleton_forward on a body with the same rest joints."""
    import jax.numpy as jnp

    from genmo_jax.body import smpl
    from genmo_jax.body.skeletons import SMPL_PARENTS

    model = smpl.BodyModel(
        v_template=jnp.zeros((4, 3)), shapedirs=jnp.zeros((4, 3, 10)),
        posedirs=jnp.zeros((4, 3, 207)), J_regressor=jnp.zeros((24, 4)),
        weights=jnp.zeros((4, 24)), faces=jnp.zeros((1, 3), jnp.int32),
        pose_mean=jnp.zeros((24, 3)), joint_template=jnp.asarray(SKELETON.joints, jnp.float32),
        joint_shapedirs=jnp.zeros((24, 3, 10)), parents=SMPL_PARENTS)
    clip = world.generate_clip(np.random.default_rng(4), SKELETON)
    import jax

    reference = jax.jit(smpl.skeleton_forward)(model, jnp.zeros(10), jnp.asarray(clip["global_orient"],
                                                                          jnp.float32),
                                      jnp.asarray(clip["body_pose"], jnp.float32),
                                      jnp.asarray(clip["transl"], jnp.float32))
    np.testing.assert_allclose(np.asarray(reference), clip["joints_w"], atol=2e-5)


def test_leg_ik_reaches_reachable_targets_exactly():
    rng = np.random.default_rng(0)
    n = 64
    pelvis_rot = Rotation.from_rotvec(rng.normal(size=(n, 3)) * 0.3).as_matrix()
    pelvis_pos = np.array([0.0, 0.9, 0.0]) + rng.normal(size=(n, 3)) * 0.05
    hip = pelvis_pos + pelvis_rot @ (SKELETON.joints[1] - SKELETON.joints[0])
    direction = rng.normal(size=(n, 3)) * 0.3 + [0.0, -1.0, 0.2]
    direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
    target = hip + direction * rng.uniform(0.3, 0.98, (n, 1)) * SKELETON.leg_reach[0]
    foot = Rotation.from_rotvec(rng.normal(size=(n, 3)) * 0.3).as_matrix()
    hip_rot, knee_rot, ankle_rot = sk.solve_leg_ik(SKELETON, 0, pelvis_rot, hip, target, foot,
                                                   np.tile([0.0, 0.0, 1.0], (n, 1)))
    local = np.tile(np.eye(3), (n, 24, 1, 1))
    local[:, 0], local[:, 1], local[:, 4], local[:, 7] = pelvis_rot, hip_rot, knee_rot, ankle_rot
    positions, rotations = sk.forward_kinematics(SKELETON, local, pelvis_pos - SKELETON.joints[0])
    np.testing.assert_allclose(positions[:, 7], target, atol=1e-9)
    np.testing.assert_allclose(rotations[:, 7], foot, atol=1e-9)
    # knee flexion only (no hyper-extension)
    assert np.all(Rotation.from_matrix(knee_rot).as_rotvec()[:, 0] >= -1e-9)


def _body_frame_displacement(clip, state):
    """Pelvis displacement over the clip in the start body frame: (left, forward) metres."""
    delta = clip["joints_w"][-1, 0] - clip["joints_w"][0, 0]
    forward = np.array([np.sin(state.heading), 0.0, np.cos(state.heading)])
    left = np.array([np.cos(state.heading), 0.0, -np.sin(state.heading)])
    return float(delta @ left), float(delta @ forward)


@pytest.mark.parametrize("label, check", [
    ("walk", lambda lf, yaw: lf[1] > 1.0 and abs(lf[0]) < 0.3),
    ("jog", lambda lf, yaw: lf[1] > 3.0 and abs(lf[0]) < 0.3),
    ("run", lambda lf, yaw: lf[1] > 4.0 and abs(lf[0]) < 0.3),
    ("walk_backward", lambda lf, yaw: lf[1] < -0.7),
    ("sidestep_left", lambda lf, yaw: lf[0] > 0.5 and abs(lf[1]) < 0.2),
    ("sidestep_right", lambda lf, yaw: lf[0] < -0.5 and abs(lf[1]) < 0.2),
    ("turn_left", lambda lf, yaw: yaw > 0.8 and np.hypot(*lf) < 0.1),
    ("turn_right", lambda lf, yaw: yaw < -0.8 and np.hypot(*lf) < 0.1),
    ("turn_around_left", lambda lf, yaw: yaw > 2.5),
    ("walk_curve_left", lambda lf, yaw: yaw > 0.7 and lf[1] > 0.5),
    ("walk_curve_right", lambda lf, yaw: yaw < -0.7 and lf[1] > 0.5),
    ("jump_forward", lambda lf, yaw: 0.25 < lf[1] < 0.8),
])
def test_locomotion_does_what_the_caption_says(label, check):
    clip, state = _segment_clip(label, seed=5)
    yaw = _yaw(clip["global_orient"])
    assert check(_body_frame_displacement(clip, state), yaw[-1] - yaw[0]), label


def test_jump_leaves_the_ground():
    clip, _ = _segment_clip("jump", seed=1)
    joints, contact = clip["joints_w"], clip["contact"]
    airborne = ~contact.any(axis=1)
    assert airborne.sum() >= 6
    feet_height = joints[airborne][:, [7, 8], 1] - SKELETON.ankle_height
    assert feet_height.min() >= -1e-9 and feet_height.max() > 0.15
    assert joints[:, 0, 1].max() > joints[0, 0, 1] + 0.1


def test_gestures_do_what_the_caption_says():
    squat, _ = _segment_clip("squat")
    assert squat["joints_w"][:, 0, 1].min() < squat["joints_w"][0, 0, 1] - 0.25
    sit, _ = _segment_clip("sit_down")
    assert sit["joints_w"][-1, 0, 1] < sit["joints_w"][0, 0, 1] - 0.3
    arms, _ = _segment_clip("raise_arms")
    mid = arms["joints_w"][len(arms["joints_w"]) // 2]
    assert mid[20, 1] > mid[15, 1] and mid[21, 1] > mid[15, 1]    # both wrists above the head
    for label, wrist, other in (("wave_right", 21, 20), ("wave_left", 20, 21)):
        wave, _ = _segment_clip(label)
        mid = wave["joints_w"][len(wave["joints_w"]) // 2]
        assert mid[wrist, 1] > mid[15, 1] - 0.1 and mid[other, 1] < mid[other - 4, 1] - 0.3, label
    for label, ankle in (("kick_right", 8), ("kick_left", 7)):
        kick, state = _segment_clip(label)
        forward = np.array([np.sin(state.heading), 0.0, np.cos(state.heading)])
        reach = (kick["joints_w"][:, ankle] - kick["joints_w"][0, ankle]) @ forward
        assert reach.max() > 0.3 and kick["joints_w"][:, ankle, 1].max() > 0.25, label


def test_caption_windows_cover_the_clip_and_parse():
    clip = world.generate_clip(np.random.default_rng(11), SKELETON, dance_prob=0.0)
    windows = clip["caption_window"]
    assert windows[0, 0] == 0 and windows[-1, 1] == clip["transl"].shape[0]
    np.testing.assert_array_equal(windows[1:, 0], windows[:-1, 1])
    assert str(clip["caption_text"][0]).startswith("a person ")
    assert all(str(t).startswith("then ") for t in clip["caption_text"][1:])
    assert [cap.label_of_caption(str(t)) for t in clip["caption_text"]] == list(clip["labels"])
    assert cap.as_first("then turns left") == "a person turns left"
    assert cap.label_of_caption(cap.as_first(str(clip["caption_text"][-1]))) == clip["labels"][-1]
    with pytest.raises(ValueError, match="not written by the procedural generator"):
        cap.label_of_caption("a person juggles")


def test_dance_moves_and_music_follow_the_same_beats():
    clip = dance.generate_dance_clip(np.random.default_rng(3), SKELETON)
    num_frames = clip["transl"].shape[0]
    music, beats = clip["music"], clip["beat_frames"]
    assert music.dtype == np.float32 and music.shape == (num_frames * 512,)
    assert int(clip["music_rate"]) == dance.MUSIC_RATE
    # audio energy per 30-fps frame peaks on beat frames (kick drum)
    energy = np.square(music[: num_frames * 512].reshape(num_frames, 512)).sum(-1)
    beat_idx = np.round(beats).astype(int)
    off_beat = np.round(beats[:-1] + np.diff(beats) / 2).astype(int)
    assert energy[beat_idx].mean() > 3 * energy[off_beat].mean()
    # the pelvis is lower on beats than half-way between them
    pelvis = clip["joints_w"][:, 0, 1]
    assert pelvis[beat_idx[1:-1]].mean() < pelvis[off_beat[1:]].mean() - 0.02
    assert all(cap.label_of_caption(str(t)) == "dance" for t in clip["caption_text"])
    assert _max_planted_speed(clip) < 0.01


def test_rest_skeleton_from_a_body_model():
    """The rest skeleton is the body model's J(beta); the floor is its lowest rest vertex."""
    import jax.numpy as jnp

    from genmo_jax.body import smpl
    from genmo_jax.body.skeletons import SMPL_PARENTS

    rng = np.random.default_rng(0)
    vertices = rng.normal(size=(30, 3)) * 0.3
    shapedirs = rng.normal(size=(30, 3, 10)) * 0.01
    regressor = rng.dirichlet(np.ones(30), size=24)
    model = smpl.BodyModel(
        v_template=jnp.asarray(vertices, jnp.float32), shapedirs=jnp.asarray(shapedirs, jnp.float32),
        posedirs=jnp.zeros((30, 3, 207)), J_regressor=jnp.asarray(regressor, jnp.float32),
        weights=jnp.zeros((30, 24)), faces=jnp.zeros((1, 3), jnp.int32),
        pose_mean=jnp.zeros((24, 3)),
        joint_template=jnp.asarray(regressor @ vertices, jnp.float32),
        joint_shapedirs=jnp.asarray(np.einsum("jv,vcs->jcs", regressor, shapedirs), jnp.float32),
        parents=SMPL_PARENTS)
    betas = rng.normal(size=10)
    skeleton = sk.RestSkeleton.from_body_model(model, betas)
    shaped = vertices + shapedirs @ betas
    np.testing.assert_allclose(skeleton.joints, regressor @ shaped, atol=1e-5)
    np.testing.assert_allclose(skeleton.floor_y, shaped[:, 1].min(), atol=1e-5)


def test_open_body_skeleton_gives_planted_feet():
    from genmo_jax.body import smpl
    from genmo_jax.body.open_body import open_body_path

    try:
        path = open_body_path()
    except FileNotFoundError:
        pytest.skip("the built-in open body file is not built")
    import jax
    import jax.numpy as jnp

    model = smpl.load_body_model(path)
    shapes = sk.ShapeSpace.from_body_model(model)
    for seed in range(3):
        clip = world.generate_clip(np.random.default_rng(seed), shapes)
        assert clip["betas"].shape == (shapes.num_betas,) and np.abs(clip["betas"]).max() > 0.1
        assert _max_planted_speed(clip) < 0.01
        # the joints are the body model's own FK for the clip's betas
        reference = jax.jit(smpl.skeleton_forward)(
            model, jnp.asarray(clip["betas"], jnp.float32),
            jnp.asarray(clip["global_orient"], jnp.float32),
            jnp.asarray(clip["body_pose"], jnp.float32), jnp.asarray(clip["transl"], jnp.float32))
        np.testing.assert_allclose(np.asarray(reference), clip["joints_w"], atol=5e-5)
        # feet rest on the floor: the lowest vertex of the shaped body is at y = 0
        planted = clip["contact"][:, [0, 2]]
        np.testing.assert_allclose(clip["joints_w"][:, [7, 8], 1][planted],
                                   shapes.skeleton(clip["betas"]).ankle_height, atol=1e-6)


@pytest.mark.slow
def test_music_features_find_the_beats_the_dance_follows():
    pytest.importorskip("librosa")
    from genmo_jax.data.procedural import records

    clip = dance.generate_dance_clip(np.random.default_rng(0), SKELETON)
    record = records.clip_to_record(clip, "dance0")        # the real librosa feature path
    features = record["music_feat"]
    assert features.shape == (clip["transl"].shape[0], 35)
    detected = np.flatnonzero(features[:, 34])             # beat one-hot
    distance = np.abs(detected[:, None] - clip["beat_frames"][None]).min(axis=1)
    assert len(detected) >= 0.8 * len(clip["beat_frames"])
    assert np.mean(distance <= 2.0) >= 0.9


def test_motion_is_smooth_within_and_across_segments():
    for seed in range(8):
        clip = world.generate_clip(np.random.default_rng(seed), SKELETON, dance_prob=0.2)
        velocity = np.diff(clip["joints_w"], axis=0)                     # metres per frame
        acceleration = np.linalg.norm(np.diff(velocity, axis=0), axis=-1)
        assert np.linalg.norm(velocity, axis=-1).max() < 0.3             # < 9 m/s, any joint
        assert acceleration.max() < 0.2
        for boundary in clip["caption_window"][1:, 0]:                   # transitions
            assert acceleration[max(boundary - 8, 0): boundary + 8].max() < 0.12


@pytest.mark.slow
def test_many_clips_plant_their_feet_exactly_with_random_body_shapes():
    """Sweep: 150 clips with the fallback skeleton, 100 with random open-body shapes."""
    skeletons = [(SKELETON, 150)]
    try:
        from genmo_jax.body import smpl
        from genmo_jax.body.open_body import open_body_path
        skeletons.append((sk.ShapeSpace.from_body_model(smpl.load_body_model(open_body_path())),
                          100))
    except FileNotFoundError:
        pass
    for skeleton, count in skeletons:
        for seed in range(count):
            clip = world.generate_clip(np.random.default_rng(seed), skeleton)
            assert _max_planted_speed(clip) < 1e-6, seed
            assert clip["joints_w"][..., 1].min() > -0.05, seed      # nothing sinks into the floor


def test_walking_gait_is_coordinated():
    """The hip of the forward leg leads, and the arms swing against the legs."""
    for seed in range(3):
        clip, state = _segment_clip("walk", seed=seed)
        joints = clip["joints_w"][20:60]
        forward = np.array([np.sin(state.heading), 0.0, np.cos(state.heading)])
        ankles, hips, wrists = ((joints[:, a] - joints[:, b]) @ forward
                                for a, b in ((7, 8), (1, 2), (20, 21)))
        assert np.corrcoef(ankles, hips)[0, 1] > 0.5
        assert np.corrcoef(ankles, wrists)[0, 1] < -0.5


def test_action_weights_set_the_mix_and_bad_ones_are_named():
    counts = {label: 0 for label in world.ACTION_WEIGHTS}
    for seed in range(600):    # first labels: plain draws (later ones never repeat the last)
        labels = world.sample_labels(np.random.default_rng(seed), 1,
                                     {"jump": 1.0, "turn_left": 3.0})
        for label in labels:
            counts[label] += 1
    assert set(k for k, v in counts.items() if v) == {"jump", "turn_left"}
    assert 2.4 < counts["turn_left"] / counts["jump"] < 3.7    # 3:1
    balanced = world.generate_clip(np.random.default_rng(5), SKELETON, 0.0,
                                   world.BALANCED_ACTION_WEIGHTS)
    assert [cap.label_of_caption(str(c)) for c in balanced["caption_text"]] \
        == list(balanced["labels"])
    with pytest.raises(ValueError, match="fly"):
        world.generate_clip(np.random.default_rng(0), SKELETON, 0.0, {"fly": 1.0})
    with pytest.raises(ValueError, match="action_weights"):
        world.generate_clip(np.random.default_rng(0), SKELETON, 0.0, {"jump": -1.0})


def test_cli_balanced_action_mix(tmp_path):
    from genmo_jax.data import shards
    from genmo_jax.data.procedural import records
    from genmo_jax.data.procedural.__main__ import main as procedural_main

    out = tmp_path / "balanced"
    assert procedural_main(["--clips", "2", "--out", str(out), "--seed", "4", "--dance-prob", "0",
                            "--body", "smpl_like", "--action-mix", "balanced"]) == 0
    expected = records.generate_record(SKELETON, 4, 1, dance_prob=0.0,
                                       action_weights=world.BALANCED_ACTION_WEIGHTS)
    record = shards.ShardSource(out)[1]
    np.testing.assert_array_equal(record["body_pose"], expected["body_pose"])
    assert list(record["caption_text"]) == list(expected["caption_text"])
