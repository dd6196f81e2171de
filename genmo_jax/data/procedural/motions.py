"""Motion segments of the procedural world: each writes the plan channels (`plan.py`) of one
action, starting from the `State` the previous segment ended in.

Rotation conventions of the SMPL rest pose (T-pose, facing +z, left = +x): a positive rotation
about +x of a spine joint leans forward, of a knee bends it; an arm hanging down swings forward
with a negative rotation about +x. `arm_rotvecs` hides the side-dependent signs.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from genmo_jax.data.procedural import captions as cap
from genmo_jax.data.procedural import plan as pl
from genmo_jax.data.procedural import skeleton as sk

ARM_DOWN = 1.25          # shoulder abduction angle that lowers the T-pose arm to the side, rad
STANCE_HALF_WIDTH = 0.09  # lateral ankle offset from the body centre line, metres
GRAVITY = 9.81


def _rotvec(axis, angle):
    """(L,) angles about a fixed axis (3,) -> (L, 3) rotation vectors."""
    return np.asarray(angle, np.float64)[..., None] * np.asarray(axis, np.float64)


def _compose(*rotvecs):
    """Rotation vectors (L, 3) composed left to right (R = R0 @ R1 @ ...) -> (L, 3)."""
    result = Rotation.from_rotvec(rotvecs[0])
    for rv in rotvecs[1:]:
        result = result * Rotation.from_rotvec(rv)
    return result.as_rotvec()


def arm_rotvecs(side, down, forward, elbow, elbow_up=None):
    """Shoulder and elbow rotation vectors (L, 3) each for one arm.

    side: 0 left, 1 right. down: abduction from the T-pose toward the body (ARM_DOWN = hanging,
    negative = raised above the shoulder); forward: flexion of the lowered arm toward the front;
    elbow: forearm flexion toward the front; elbow_up: forearm flexion upward (waving), rad.
    """
    sign = 1.0 if side == 0 else -1.0
    down, forward, elbow = (np.asarray(a, np.float64) for a in (down, forward, elbow))
    shoulder = _compose(_rotvec((1, 0, 0), -forward), _rotvec((0, 0, 1), -sign * down))
    elbow_rv = _rotvec((0, 1, 0), -sign * elbow)
    if elbow_up is not None:
        elbow_rv = _compose(_rotvec((0, 0, 1), sign * np.asarray(elbow_up)), elbow_rv)
    return shoulder, elbow_rv


def set_arms(upper, side, down, forward, elbow, elbow_up=None):
    shoulder, elbow_rv = arm_rotvecs(side, down, forward, elbow, elbow_up)
    upper[:, sk.L_SHOULDER + side] = shoulder
    upper[:, sk.L_ELBOW + side] = elbow_rv


def idle_upper(rng, num_frames, arms=True):
    """Relaxed upper body with slow breathing sway: (L, 24, 3)."""
    upper = np.zeros((num_frames, sk.NUM_JOINTS, 3))
    t = np.arange(num_frames) / pl.FPS
    phase = rng.uniform(0, 2 * np.pi, 3)
    sway = 0.03 * np.sin(2 * np.pi * 0.25 * t + phase[0])
    upper[:, sk.SPINE3, 0] = 0.02 * np.sin(2 * np.pi * 0.3 * t + phase[1])
    upper[:, sk.SPINE1, 2] = sway
    upper[:, sk.NECK, 1] = 0.08 * np.sin(2 * np.pi * 0.12 * t + phase[2])
    if arms:
        for side in (0, 1):
            set_arms(upper, side, np.full(num_frames, ARM_DOWN), np.full(num_frames, 0.05),
                     np.full(num_frames, 0.15))
    return upper


def _planted(state: pl.State, num_frames):
    """Both feet planted where the state has them: ankle, yaw, pitch, contact channels."""
    ankle = np.repeat(state.ankle[None], num_frames, axis=0)
    foot_yaw = np.repeat(state.foot_yaw[None], num_frames, axis=0)
    return ankle, foot_yaw, np.zeros((num_frames, 2)), np.ones((num_frames, 4), bool)


def build_segment(state, root_xz, heading, pelvis_dy, pelvis_tilt, feet, upper, label, caption,
             end_root=None, end_heading=None, seated=None):
    ankle, foot_yaw, foot_pitch, contact = feet
    end = pl.State(root_xz=np.asarray(root_xz[-1] if end_root is None else end_root, np.float64),
                   heading=float(heading[-1] if end_heading is None else end_heading),
                   ankle=ankle[-1].copy(), foot_yaw=foot_yaw[-1].copy(),
                   seated=state.seated if seated is None else seated)
    return pl.Segment(root_xz=root_xz, heading=heading, pelvis_dy=pelvis_dy,
                      pelvis_tilt=pelvis_tilt, ankle=ankle, foot_yaw=foot_yaw,
                      foot_pitch=foot_pitch, contact=contact, upper=upper, label=label,
                      caption=caption, end=end)


# ---------------------------------------------------------------------------------------------
# Locomotion: walking, jogging, running, backward, sideways, turning (one stepping engine)

GAITS = {
    # speed range m/s, steps/s, duty factor, swing height m, arm swing, elbow, lean, bob
    "walk": dict(speed=(0.7, 1.5), cadence=(1.6, 2.0), duty=0.62, height=0.09, arm=0.3,
                 elbow=0.25, lean=0.04, bob=0.02),
    "jog": dict(speed=(1.9, 2.6), cadence=(2.6, 2.8), duty=0.36, height=0.14, arm=0.5,
                elbow=1.3, lean=0.1, bob=0.03),
    "run": dict(speed=(2.8, 3.6), cadence=(2.8, 3.1), duty=0.30, height=0.2, arm=0.7,
                elbow=1.5, lean=0.16, bob=0.03),
}


MAX_STEP_LENGTH = {"walk": 0.75, "jog": 1.05, "run": 1.3}   # metres per step


def locomotion(skeleton, rng, state, num_frames, *, velocity, turn, cadence, duty, height,
               arm, elbow, lean, bob, label, caption, lead=None, roll=True):
    """Stepping along a path. velocity: (lateral-left, forward) body-frame speed, m/s, reached
    after a smooth start and left by a smooth stop; turn: total heading change, rad."""
    n = num_frames
    frames = np.arange(n, dtype=np.float64)
    step_period = pl.FPS / cadence
    swing = (1.0 - duty) * 2.0 * step_period
    first_lift = 2.0
    num_steps = int((n - 1 - first_lift - swing) // step_period) + 1
    if num_steps < 3:
        raise ValueError(f"locomotion segment of {n} frames is too short for three steps")
    if lead is None:
        lead = int(rng.integers(2))
    lifts = first_lift + step_period * np.arange(num_steps)
    lands = lifts + swing
    # The body starts with the first step and comes to rest when the last step lands, so the
    # last foot closes the stance under a body that no longer moves.
    stop = lands[-1]
    rise = min(0.8 * pl.FPS, stop / 3)
    envelope = pl.smoothstep(frames / rise) * pl.smoothstep((stop - frames) / rise)
    weights = np.concatenate([[0.0], np.cumsum(envelope[:-1])])
    heading = state.heading + turn * weights / max(weights[-1], 1e-9)
    forward, left = pl.heading_vectors(heading)
    world_velocity = (velocity[1] * forward + velocity[0] * left) * envelope[:, None]
    root = state.root_xz + np.concatenate([[np.zeros(2)],
                                           np.cumsum(world_velocity[:-1], axis=0) / pl.FPS])
    end_ankle, end_yaw = pl.stance_feet(skeleton, root[-1], heading[-1], STANCE_HALF_WIDTH)
    steps = []
    for k in range(num_steps):
        side = (lead + k) % 2
        if k == num_steps - 1:
            target, yaw = end_ankle[side], end_yaw[side]
        else:
            next_lift = lifts[k + 2] if k + 2 < num_steps else n - 1
            t_ref = lands[k] + 0.45 * (next_lift - lands[k])
            ref_root = np.array([np.interp(t_ref, frames, root[:, i]) for i in (0, 1)])
            yaw = float(np.interp(t_ref, frames, heading))
            target, _ = pl.stance_feet(skeleton, ref_root, yaw, STANCE_HALF_WIDTH)
            target = target[side]
        previous_land = lands[k - 2] if k >= 2 else 0.0
        forward_speed = velocity[1] * np.interp(lifts[k], frames, envelope)
        roll_frames = min(0.3 * (lifts[k] - previous_land), 8.0) \
            if roll and forward_speed > 0.5 and k < num_steps - 1 else 0.0
        steps.append(pl.Step(side=side, lift=lifts[k], land=lands[k], target=target, yaw=yaw,
                             height=height, roll=roll_frames, roll_pitch=0.45))
    feet = pl.feet_from_steps(skeleton, n, state.ankle, state.foot_yaw, steps)

    # Cycle phase (2 steps); the arm opposite the leading foot is forward when that foot lands.
    cycle = (frames - first_lift) / (2 * step_period)
    pelvis_dy = -bob * envelope * (0.5 - 0.5 * np.cos(2 * np.pi * 2 * cycle))
    pelvis_tilt = np.zeros((n, 3))
    pelvis_tilt[:, 0] = lean * envelope * np.sign(velocity[1] + 1e-9)
    # the pelvis turns the hip of the forward leg forward (the lead's landing: phase 0 below),
    # and the chest counter-rotates
    twist_sign = -1.0 if lead == 0 else 1.0
    pelvis_tilt[:, 1] = twist_sign * 0.08 * envelope * np.cos(2 * np.pi * (cycle - (1 - duty)))
    upper = idle_upper(rng, n)
    swing_lead_opposite = arm * envelope * np.cos(2 * np.pi * (cycle - (1 - duty)))
    for side in (0, 1):
        sign = 1.0 if side != lead else -1.0
        set_arms(upper, side, np.full(n, ARM_DOWN), sign * swing_lead_opposite + 0.05,
                 0.15 + elbow * envelope)
    upper[:, sk.SPINE3, 1] = -twist_sign * 0.12 * envelope * np.cos(2 * np.pi * (cycle
                                                                            - (1 - duty)))
    return build_segment(state, root, heading, pelvis_dy, pelvis_tilt, feet, upper, label, caption)


def sample_locomotion(skeleton, rng, state, first, label):
    """Random locomotion segment of kind `label` (walk/jog/run/curves/backward/sidestep/turn)."""
    base = label.split("_")[0]
    gait = dict(GAITS[base if base in GAITS else "walk"])
    speed_lo, speed_hi = gait.pop("speed")
    cadence = rng.uniform(*gait.pop("cadence"))
    speed = rng.uniform(speed_lo, speed_hi)
    speed_word = "normal"
    turn, velocity, lead, duration = 0.0, (0.0, speed), None, rng.uniform(2.5, 4.5)
    if label == "walk":
        speed_word = "slow" if speed < 0.95 else ("fast" if speed > 1.3 else "normal")
    elif label.endswith("curve_left") or label.endswith("curve_right"):
        turn = rng.uniform(0.8, 1.8) * (1 if label.endswith("left") else -1)
    elif label == "walk_backward":
        velocity, duration = (0.0, -rng.uniform(0.5, 0.8)), rng.uniform(2.0, 3.5)
        cadence = rng.uniform(1.6, 1.9)
    elif label.startswith("sidestep"):
        direction = 1.0 if label.endswith("left") else -1.0
        velocity, duration = (direction * rng.uniform(0.35, 0.6), 0.0), rng.uniform(2.0, 3.0)
        lead, cadence = (0 if direction > 0 else 1), rng.uniform(1.4, 1.7)
        gait.update(arm=0.05, lean=0.0)
    elif label.startswith("turn"):
        magnitude = rng.uniform(2.6, 3.3) if "around" in label else rng.uniform(0.9, 1.8)
        turn = magnitude * (1 if label.endswith("left") else -1)
        velocity, duration = (0.0, 0.0), rng.uniform(1.5, 2.2) * (1.4 if "around" in label else 1)
        lead, cadence = (0 if turn > 0 else 1), rng.uniform(1.5, 1.8)
        gait.update(arm=0.05, lean=0.0, height=0.06)
    if label.startswith("run"):
        duration = rng.uniform(2.2, 3.2)
    # long strides come with a faster cadence: keep the step length (m) within what legs reach
    cadence = max(cadence, np.hypot(*velocity) / MAX_STEP_LENGTH[base if base in GAITS else "walk"])
    step_period = pl.FPS / cadence
    at_least_three_steps = int(np.ceil(4 + 2 * (1 - gait["duty"]) * step_period + 2 * step_period))
    num_frames = max(int(round(duration * pl.FPS)), at_least_three_steps)
    caption = cap.make_caption(label, rng, first, speed=speed_word)
    return locomotion(skeleton, rng, state, num_frames, velocity=velocity, turn=turn,
                      cadence=cadence, lead=lead, label=label, caption=caption,
                      roll=label in ("walk", "jog", "run") or "curve" in label, **gait)


# ---------------------------------------------------------------------------------------------
# In-place actions

def stand(skeleton, rng, state, first):
    n = int(round(rng.uniform(1.0, 2.5) * pl.FPS))
    root = np.repeat(state.root_xz[None], n, axis=0)
    heading = np.full(n, state.heading)
    dy, tilt, _ = pl.empty_channels(n)
    return build_segment(state, root, heading, dy, tilt, _planted(state, n), idle_upper(rng, n),
                    "stand", cap.make_caption("stand", rng, first))


def _hermite(p0, p1, v0, v1, u, duration):
    """Cubic Hermite from p0 to p1 with end velocities v0, v1 (per second) over `duration` s."""
    h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
    h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
    return h00 * p0 + h10 * duration * v0 + h01 * p1 + h11 * duration * v1


def _keyframes(t, key_times, key_values):
    """Smoothstep interpolation through (key_times, key_values); (len(t),)."""
    key_times, key_values = np.asarray(key_times, float), np.asarray(key_values, float)
    index = np.clip(np.searchsorted(key_times, t, side="right") - 1, 0, len(key_times) - 2)
    u = (t - key_times[index]) / np.maximum(key_times[index + 1] - key_times[index], 1e-9)
    return key_values[index] + pl.smoothstep(u) * (key_values[index + 1] - key_values[index])


def jump(skeleton, rng, state, first, forward_distance):
    """Crouch, push off, ballistic flight, landing absorption, recovery."""
    crouch, land_crouch = rng.uniform(0.12, 0.22), rng.uniform(0.08, 0.15)
    flight = rng.uniform(0.3, 0.45)
    v0 = GRAVITY * flight / 2.0
    durations = np.array([rng.uniform(0.4, 0.6), 0.2, flight, 0.25, rng.uniform(0.4, 0.7)])
    bounds = np.concatenate([[0.0], np.cumsum(durations)]) * pl.FPS
    n = int(np.ceil(bounds[-1])) + 1
    t = np.arange(n, dtype=np.float64)
    dy = np.zeros(n)
    phase = [(t >= bounds[i]) & (t < bounds[i + 1]) for i in range(5)]
    phase[4] |= t >= bounds[5]
    local = [np.clip((t - bounds[i]) / (bounds[i + 1] - bounds[i]), 0, 1) for i in range(5)]
    dy[phase[0]] = -crouch * pl.smoothstep(local[0][phase[0]])
    dy[phase[1]] = _hermite(-crouch, 0.0, 0.0, v0, local[1][phase[1]], durations[1])
    tau = local[2][phase[2]] * flight
    dy[phase[2]] = v0 * tau - 0.5 * GRAVITY * tau**2
    dy[phase[3]] = _hermite(0.0, -land_crouch, -v0, 0.0, local[3][phase[3]], durations[3])
    dy[phase[4]] = -land_crouch * (1 - pl.smoothstep(local[4][phase[4]]))
    forward, _ = pl.heading_vectors(np.asarray(state.heading))
    # horizontal travel only while airborne (and a little during push and landing)
    travel = pl.smoothstep((t - bounds[1]) / (bounds[4] - bounds[1]))
    root = state.root_xz + forward_distance * travel[:, None] * forward
    feet_travel = np.clip((t - bounds[2]) / (bounds[3] - bounds[2]), 0, 1)
    ankle, foot_yaw, foot_pitch, contact = _planted(state, n)
    airborne = phase[2]
    takeoff_dy = 0.0
    tuck = rng.uniform(0.05, 0.15) * np.sin(np.pi * local[2])
    for side in (0, 1):
        ankle[:, side, [0, 2]] += forward_distance * feet_travel[:, None] * forward
        ankle[airborne, side, 1] += dy[airborne] - takeoff_dy + tuck[airborne]
    contact[airborne] = False
    tilt = np.zeros((n, 3))
    lean = np.zeros(n)
    lean[phase[0]] = 0.35 * pl.smoothstep(local[0][phase[0]])
    lean[phase[1]] = 0.35 * (1 - local[1][phase[1]])
    lean[phase[3]] = 0.25 * np.sin(np.pi * local[3][phase[3]] / 2)
    lean[phase[4]] = 0.25 * (1 - pl.smoothstep(local[4][phase[4]]))
    tilt[:, 0] = lean
    upper = idle_upper(rng, n)
    upper[:, sk.SPINE3, 0] += 0.5 * lean
    # arms swing back while crouching, forward-up through push-off and flight, down on landing
    arm_forward = _keyframes(t, [0.0, bounds[1], (bounds[1] + bounds[3]) / 2, bounds[4], t[-1]],
                             [0.0, -0.6, 1.2, 0.2, 0.0])
    for side in (0, 1):
        set_arms(upper, side, np.full(n, ARM_DOWN), arm_forward, np.full(n, 0.3))
    label = "jump_forward" if forward_distance > 0 else "jump"
    end_root = state.root_xz + forward_distance * forward
    return build_segment(state, root, np.full(n, state.heading), dy, tilt,
                    (ankle, foot_yaw, foot_pitch, contact), upper, label,
                    cap.make_caption(label, rng, first), end_root=end_root)


def _bump(n, rise, hold, fall, start=0):
    """0 -> 1 (over rise) -> hold -> 0 (over fall), frames; (n,)."""
    t = np.arange(n, dtype=np.float64) - start
    return pl.smoothstep(t / rise) * (1 - pl.smoothstep((t - rise - hold) / fall))


def squat(skeleton, rng, state, first):
    depth = rng.uniform(0.3, 0.45)
    rise, hold, fall = (int(rng.uniform(0.8, 1.2) * pl.FPS), int(rng.uniform(0.2, 0.6) * pl.FPS),
                        int(rng.uniform(0.8, 1.2) * pl.FPS))
    n = rise + hold + fall + 10
    b = _bump(n, rise, hold, fall, start=5)
    forward, _ = pl.heading_vectors(np.asarray(state.heading))
    root = state.root_xz - 0.25 * depth * b[:, None] * forward
    dy = -depth * b
    tilt = np.zeros((n, 3))
    tilt[:, 0] = 0.7 * b
    upper = idle_upper(rng, n)
    upper[:, sk.SPINE3, 0] += 0.1 * b
    upper[:, sk.NECK, 0] -= 0.35 * b
    for side in (0, 1):
        set_arms(upper, side, ARM_DOWN + (np.pi / 2 - ARM_DOWN) * b, 0.05 + 1.45 * b,
                 0.15 + 0.1 * b)
    return build_segment(state, root, np.full(n, state.heading), dy, tilt, _planted(state, n), upper,
                    "squat", cap.make_caption("squat", rng, first))


def wave(skeleton, rng, state, first, side):
    rise, hold, fall = int(0.6 * pl.FPS), int(rng.uniform(1.5, 3.0) * pl.FPS), int(0.6 * pl.FPS)
    n = rise + hold + fall + 6
    b = _bump(n, rise, hold, fall, start=3)
    t = np.arange(n) / pl.FPS
    upper = idle_upper(rng, n)
    frequency = rng.uniform(1.5, 2.5)
    set_arms(upper, side, ARM_DOWN - (ARM_DOWN + 0.35) * b, 0.2 * b, 0.15 * (1 - b),
             elbow_up=b * (1.5 + 0.45 * np.sin(2 * np.pi * frequency * t)))
    upper[:, sk.SPINE3, 2] = (0.06 if side == 1 else -0.06) * b
    root = np.repeat(state.root_xz[None], n, axis=0)
    dy, tilt, _ = pl.empty_channels(n)
    label = "wave_left" if side == 0 else "wave_right"
    return build_segment(state, root, np.full(n, state.heading), dy, tilt, _planted(state, n), upper,
                    label, cap.make_caption(label, rng, first))


def raise_arms(skeleton, rng, state, first):
    rise, hold, fall = (int(rng.uniform(0.7, 1.0) * pl.FPS), int(rng.uniform(0.5, 1.2) * pl.FPS),
                        int(rng.uniform(0.7, 1.0) * pl.FPS))
    n = rise + hold + fall + 6
    b = _bump(n, rise, hold, fall, start=3)
    upper = idle_upper(rng, n)
    for side in (0, 1):
        set_arms(upper, side, ARM_DOWN - (ARM_DOWN + 1.3) * b, 0.05 + 0.15 * b, 0.15 * (1 - b))
    upper[:, sk.NECK, 0] -= 0.15 * b
    root = np.repeat(state.root_xz[None], n, axis=0)
    dy, tilt, _ = pl.empty_channels(n)
    return build_segment(state, root, np.full(n, state.heading), dy, tilt, _planted(state, n), upper,
                    "raise_arms", cap.make_caption("raise_arms", rng, first))


def kick(skeleton, rng, state, first, side):
    """Weight shift onto the support foot, kick forward, put the foot back, shift back."""
    shift, windup, strike, back, unshift = (int(0.4 * pl.FPS), int(0.25 * pl.FPS),
                                            int(rng.uniform(0.25, 0.35) * pl.FPS),
                                            int(0.45 * pl.FPS), int(0.35 * pl.FPS))
    n = shift + windup + strike + back + unshift + 4
    t = np.arange(n, dtype=np.float64)
    support = 1 - side
    forward, _ = pl.heading_vectors(np.asarray(state.heading))
    weight = _bump(n, shift, windup + strike + back, unshift, start=2)
    mid = state.root_xz
    support_xz = state.ankle[support, [0, 2]]
    root = mid + 0.6 * weight[:, None] * (support_xz - mid)
    ankle, foot_yaw, foot_pitch, contact = _planted(state, n)
    home = state.ankle[side].copy()
    reach, height = rng.uniform(0.45, 0.6), rng.uniform(0.3, 0.5)
    keys_t = np.array([2 + shift, 2 + shift + windup, 2 + shift + windup + strike,
                       2 + shift + windup + strike + back])
    up = np.array([0.0, 1.0, 0.0])
    f3 = np.array([forward[0], 0.0, forward[1]])
    keys = np.stack([home, home - 0.15 * f3 + 0.12 * up, home + reach * f3 + height * up, home])
    moving = (t > keys_t[0]) & (t < keys_t[-1])
    for i in range(3):
        seg = (t >= keys_t[i]) & (t < keys_t[i + 1]) & moving
        u = pl.smoothstep((t[seg] - keys_t[i]) / (keys_t[i + 1] - keys_t[i]))[:, None]
        ankle[seg, side] = keys[i] + u * (keys[i + 1] - keys[i])
        pitch = (0.0, -0.3, 0.0)
        foot_pitch[seg, side] = pitch[i] + u[:, 0] * ((pitch + (0.0,))[i + 1] - pitch[i])
    contact[moving, 2 * side: 2 * side + 2] = False
    tilt = np.zeros((n, 3))
    kick_phase = _bump(n, windup + strike, 0, back, start=2 + shift)
    tilt[:, 0] = -0.15 * kick_phase
    tilt[:, 2] = (0.05 if support == 0 else -0.05) * weight
    upper = idle_upper(rng, n)
    for arm in (0, 1):
        set_arms(upper, arm, ARM_DOWN - 0.6 * weight, 0.3 * weight, np.full(n, 0.3))
    label = "kick_left" if side == 0 else "kick_right"
    return build_segment(state, root, np.full(n, state.heading), np.zeros(n), tilt,
                    (ankle, foot_yaw, foot_pitch, contact), upper, label,
                    cap.make_caption(label, rng, first), end_root=state.root_xz)


SEAT_PELVIS_HEIGHT = 0.52  # pelvis joint above the floor when seated, metres
SEAT_BACK = 0.3            # how far behind the feet the pelvis sits, metres


def sit_down(skeleton, rng, state, first, reverse=False):
    duration = int(rng.uniform(1.2, 1.8) * pl.FPS)
    n = duration + 10
    u = pl.smoothstep((np.arange(n) - 5.0) / duration)
    if reverse:
        u = 1.0 - u
    forward, _ = pl.heading_vectors(np.asarray(state.heading))
    standing_height = skeleton.joints[0, 1] - skeleton.floor_y
    drop = standing_height - SEAT_PELVIS_HEIGHT
    # Down first, then back: the pelvis moves back early and down late (and reversed on rise).
    back_u = pl.smoothstep(np.clip(u * 1.6, 0, 1))
    feet_xz = 0.5 * (state.ankle[0, [0, 2]] + state.ankle[1, [0, 2]])
    root = feet_xz - SEAT_BACK * back_u[:, None] * forward
    dy = -drop * pl.smoothstep(np.clip(u * 1.2 - 0.1, 0, 1))
    tilt = np.zeros((n, 3))
    tilt[:, 0] = 0.6 * np.sin(np.pi * u) + 0.05 * u
    upper = idle_upper(rng, n)
    for side in (0, 1):
        set_arms(upper, side, np.full(n, ARM_DOWN), 0.05 + 0.5 * u, 0.15 + 0.6 * u)
    label = "stand_up" if reverse else "sit_down"
    return build_segment(state, root, np.full(n, state.heading), dy, tilt, _planted(state, n), upper,
                    label, cap.make_caption(label, rng, first), seated=not reverse)

