"""Physically consistent walking in world coordinates.

World frame: x is the walking direction, y is up, z is the walker's right; the ground is y = 0.
Side 0 is the right, side 1 the left.

Played back naively, joint-angle curves make the feet skate. Here the curves only propose;
the feet dispose:
  - each stance foot is planted where its heel lands and rolls heel -> flat -> toe about a
    fixed pivot (heel rocker, foot flat, toe rocker);
  - the pelvis height is the highest the loaded leg(s) allow given the stance knee flexion
    of the curve, never above what a straight leg reaches;
  - the legs are placed with two-link inverse kinematics from hip to ankle;
  - a swing foot follows the curve's trajectory, blended so that it leaves the ground where
    the stance ended and lands where the next stance begins, and is lifted if it would dip
    into the ground.
Everything except the small per-frame jitter is a function of the gait phase, so the pelvis
advances exactly one stride length per cycle and planted feet stay put.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synth.body import BodyShape
from synth.gait import GaitStyle
from synth.skeleton import ANKLE, ELBOW, HEAD_TOP, HIP, JOINT_COUNT, KNEE, PELVIS, SHOULDER, THORAX, UPPER_NECK, WRIST

UP = np.array([0.0, 1.0, 0.0])
SIDE_SIGN = (1.0, -1.0)  # +z is the walker's right

HEEL_ROCKER_END = 0.08  # cycle phase where the foot is flat after heel strike
TOE_ROCKER_LENGTH = 0.22  # cycles between heel-off and toe-off
HEEL_BACK = 0.22  # heel behind the ankle, fraction of foot length (the rest is in front)
LEG_RATIO = 0.491  # average (thigh + shank) / stature
HEEL_AHEAD_RANGE = (0.20, 0.28)  # heel strike ahead of the hip, fraction of the stride
PELVIS_SETTLE_S = 0.08  # time over which the pelvis may rise after a leg lets go


@dataclasses.dataclass(frozen=True)
class Carriage:
    """How a walk's load and footwear change the motion.

    Attributes:
      arm_swing: (right, left) multipliers of the shoulder swing amplitude.
      elbow_hold: (right, left) fixed elbow flexion in degrees (a carried hand bag), or None.
      lean: extra forward trunk lean, degrees (a backpack).
      ankle_range: multiplier of the ankle's range of motion (stiff shoes).
      sole: sole thickness in metres added under the foot.
    """

    arm_swing: tuple[float, float] = (1.0, 1.0)
    elbow_hold: tuple[float | None, float | None] = (None, None)
    lean: float = 0.0
    ankle_range: float = 1.0
    sole: float = 0.015


@dataclasses.dataclass(frozen=True, eq=False)
class WalkMotion:
    """A walk in world coordinates, T frames.

    Attributes:
      time: (T,) seconds.
      phase: (T,) gait phase of the right side, cycles (continuous, increasing).
      joints: (T, 16, 3) MPII joints, metres.
      heel, toe: (T, 2, 3) the sole's rear and front points of each foot (side 0 right).
      foot_pitch: (T, 2) radians, toes up positive.
      foot_direction: (2, 3) unit vector each foot points along (toe-out included).
      stance: (T, 2) bool, the foot is on the ground.
      pelvis_rotation, trunk_rotation, head_rotation: (T, 3, 3) columns are the segment's
        forward, up and right axes in world coordinates.
      hand_tip: (T, 2, 3) end of each hand.
      stride_length: metres per cycle.
    """

    time: np.ndarray
    phase: np.ndarray
    joints: np.ndarray
    heel: np.ndarray
    toe: np.ndarray
    foot_pitch: np.ndarray
    foot_direction: np.ndarray
    stance: np.ndarray
    pelvis_rotation: np.ndarray
    trunk_rotation: np.ndarray
    head_rotation: np.ndarray
    hand_tip: np.ndarray
    stride_length: float

    @property
    def frames(self) -> int:
        return len(self.time)


def walk_motion(
    body: BodyShape,
    style: GaitStyle,
    carriage: Carriage,
    *,
    fps: float,
    frames: int,
    start_phase: float,
    rng: np.random.Generator,
    stride_time_cv: float = 0.02,
    jitter_deg: float = 0.8,
) -> WalkMotion:
    """Simulates `frames` frames of a straight walk along +x, centred on x = 0.

    Args:
      body: the person's body.
      style: the walk's style, speed already applied (`gait.at_speed`).
      carriage: load and footwear effects.
      fps: frames per second.
      frames: number of frames T.
      start_phase: gait phase (cycles) of the first frame.
      rng: the walk's generator (stride-time variability and angle jitter).
      stride_time_cv: coefficient of variation of stride time.
      jitter_deg: standard deviation of the smooth per-frame angle jitter.
    """
    if frames < 2:
        raise ValueError(f"a walk needs at least 2 frames, got {frames}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    time = np.arange(frames) / fps
    stride_frequency = style["cadence"] / 120.0  # cadence counts steps, a stride is two
    phase = _phase_track(start_phase, stride_frequency, fps, frames, rng, stride_time_cv)
    jitter = {name: _smooth_noise(rng, frames, fps, jitter_deg) for name in
              ("hip0", "hip1", "knee0", "knee1", "shoulder0", "shoulder1", "elbow0", "elbow1")}
    gait = _Gait(body, style, carriage, phase[0], phase[-1])

    pelvis_rotation = gait.pelvis_rotation(phase)
    pelvis = np.zeros((frames, 3))
    pelvis[:, 0] = gait.pelvis_x(phase)
    pelvis[:, 2] = gait.pelvis_z(phase)
    hip_offset = np.stack(
        [pelvis_rotation @ np.array([0.0, 0.0, SIDE_SIGN[s] * body.hip_spacing / 2]) for s in (0, 1)], axis=1
    )  # (T, 2, 3)

    # Stance poses proposed by the planted feet; the pelvis height follows from them.
    stance = np.zeros((frames, 2), dtype=bool)
    target_ankle = np.zeros((frames, 2, 3))
    pitch = np.zeros((frames, 2))
    soft = np.full((frames, 2), np.inf)
    hard = np.full((frames, 2), np.inf)
    stance_phase = np.full((frames, 2), np.inf)
    for s in (0, 1):
        leg_phase = phase - gait.side_delay(s)
        stride = np.floor(leg_phase)
        u = leg_phase - stride
        on_ground = u < gait.toe_off
        stance[:, s] = on_ground
        ankle_st, pitch_st = gait.stance_ankle(s, stride, u)
        hip_xz = pelvis + hip_offset[:, s]
        horizontal2 = (hip_xz[:, 0] - ankle_st[:, 0]) ** 2 + (hip_xz[:, 2] - ankle_st[:, 2]) ** 2
        knee = np.radians(style.side(s)["knee"](u))
        reach = np.sqrt(body.thigh**2 + body.shank**2 + 2 * body.thigh * body.shank * np.cos(knee))
        floor2 = (0.3 * body.leg) ** 2
        soft_s = ankle_st[:, 1] + np.sqrt(np.maximum(reach**2 - horizontal2, floor2)) - hip_offset[:, s, 1]
        hard_s = ankle_st[:, 1] + np.sqrt(np.maximum((0.999 * body.leg) ** 2 - horizontal2, floor2)) - hip_offset[:, s, 1]
        soft[on_ground, s] = soft_s[on_ground]
        hard[on_ground, s] = hard_s[on_ground]
        stance_phase[on_ground, s] = u[on_ground]
        ankle_sw, pitch_sw = gait.swing_ankle(s, stride, u, phase, jitter[f"hip{s}"], jitter[f"knee{s}"])
        target_ankle[:, s] = np.where(on_ground[:, None], ankle_st, ankle_sw)
        pitch[:, s] = np.where(on_ground, pitch_st, pitch_sw)
    # The loaded leg (the one that struck most recently) sets the height through its knee
    # flexion; a trailing leg in push-off only must not be overstretched.
    loaded = np.argmin(stance_phase, axis=1)
    pelvis_height = _settled_height(soft[np.arange(frames), loaded], hard.min(axis=1), fps)
    pelvis[:, 1] = pelvis_height

    joints = np.zeros((frames, JOINT_COUNT, 3))
    joints[:, PELVIS] = pelvis
    heel = np.zeros((frames, 2, 3))
    toe = np.zeros((frames, 2, 3))
    for s in (0, 1):
        hip = pelvis + hip_offset[:, s]
        pole = np.array([np.cos(gait.toe_out / 2), 0.0, SIDE_SIGN[s] * np.sin(gait.toe_out / 2)])
        knee, ankle = two_link_ik(hip, target_ankle[:, s], body.thigh, body.shank, pole)
        joints[:, HIP[s]] = hip
        joints[:, KNEE[s]] = knee
        joints[:, ANKLE[s]] = ankle
        heel[:, s], toe[:, s] = gait.foot_points(s, ankle, pitch[:, s])

    trunk_rotation = gait.trunk_rotation(phase)
    head_rotation = gait.head_rotation(phase)
    joints[:, THORAX] = pelvis + trunk_rotation[:, :, 1] * body.trunk
    joints[:, UPPER_NECK] = joints[:, THORAX] + head_rotation[:, :, 1] * body.neck
    joints[:, HEAD_TOP] = joints[:, UPPER_NECK] + head_rotation[:, :, 1] * body.head
    hand_tip = np.zeros((frames, 2, 3))
    arm_yaw = _rotation_y(gait.thorax_yaw(phase))
    for s in (0, 1):
        shoulder = pelvis + trunk_rotation @ np.array([0.0, 0.95 * body.trunk, SIDE_SIGN[s] * body.shoulder_spacing / 2])
        leg_phase = phase - gait.side_delay(s)
        swing = style.side(s)["shoulder"].scaled(carriage.arm_swing[s])(leg_phase) + jitter[f"shoulder{s}"]
        if carriage.elbow_hold[s] is None:
            elbow_flex = style.side(s)["elbow"](leg_phase) + jitter[f"elbow{s}"]
        else:
            elbow_flex = np.full(frames, float(carriage.elbow_hold[s]))
        elbow_flex = np.clip(elbow_flex, 2.0, 140.0)
        abduction = np.radians(style["arm_abduction"])
        upper = _arm_direction(np.radians(swing), abduction, SIDE_SIGN[s])
        fore = _arm_direction(np.radians(swing + elbow_flex), 0.6 * abduction, SIDE_SIGN[s])
        upper = np.einsum("tij,tj->ti", arm_yaw, upper)
        fore = np.einsum("tij,tj->ti", arm_yaw, fore)
        joints[:, SHOULDER[s]] = shoulder
        joints[:, ELBOW[s]] = shoulder + body.upper_arm * upper
        joints[:, WRIST[s]] = joints[:, ELBOW[s]] + body.forearm * fore
        hand_tip[:, s] = joints[:, WRIST[s]] + 0.75 * body.hand * fore

    return WalkMotion(
        time=time,
        phase=phase,
        joints=joints,
        heel=heel,
        toe=toe,
        foot_pitch=pitch,
        foot_direction=np.stack([gait.foot_direction(s) for s in (0, 1)]),
        stance=stance,
        pelvis_rotation=pelvis_rotation,
        trunk_rotation=trunk_rotation,
        head_rotation=head_rotation,
        hand_tip=hand_tip,
        stride_length=gait.stride_length,
    )


def two_link_ik(
    root: np.ndarray, target: np.ndarray, upper: float, lower: float, pole: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Places a two-segment limb from `root` towards `target`.

    Args:
      root, target: (T, 3) world points.
      upper, lower: segment lengths.
      pole: (3,) direction the middle joint bends towards (the knee's forward).

    Returns:
      (middle, end): (T, 3) each. `end` equals `target` where it is reachable, else it is
      the nearest reachable point on the root-target line.
    """
    offset = target - root
    distance = np.linalg.norm(offset, axis=1)
    axis = offset / np.maximum(distance, 1e-9)[:, None]
    reach = np.clip(distance, abs(upper - lower) + 1e-6, (upper + lower) * 0.99999)
    along = (upper**2 - lower**2 + reach**2) / (2 * reach)
    across = np.sqrt(np.maximum(upper**2 - along**2, 0.0))
    bend = pole[None, :] - (axis @ pole)[:, None] * axis
    bend /= np.maximum(np.linalg.norm(bend, axis=1), 1e-9)[:, None]
    middle = root + along[:, None] * axis + across[:, None] * bend
    end = root + reach[:, None] * axis
    return middle, end


def foot_slip(motion: WalkMotion, contact_height: float = 0.01) -> float:
    """Mean horizontal speed (m/s) of the lowest sole point while it touches the ground.

    Measured on the final geometry (after inverse kinematics), over consecutive frame pairs
    of one stance of one foot.
    """
    speeds = []
    dt = np.diff(motion.time)
    for s in (0, 1):
        points = np.stack([motion.heel[:, s], motion.toe[:, s]], axis=1)  # (T, 2, 3)
        heights = points[:, :, 1]
        touching = heights.min(axis=1) < contact_height
        both = motion.stance[:-1, s] & motion.stance[1:, s] & touching[:-1] & touching[1:]
        # The same sole point in both frames: the one lowest in the first.
        lowest = heights.argmin(axis=1)[:-1]
        rows = np.arange(len(lowest))
        before = points[:-1][rows, lowest]
        after = points[1:][rows, lowest]
        step = np.hypot(after[:, 0] - before[:, 0], after[:, 2] - before[:, 2]) / dt
        speeds.append(step[both])
    joined = np.concatenate(speeds)
    return float(joined.mean()) if joined.size else 0.0


def pelvis_bounce(motion: WalkMotion) -> float:
    """Vertical pelvis excursion in metres: the 98th minus the 2nd percentile of its height."""
    height = motion.joints[:, PELVIS, 1]
    return float(np.percentile(height, 98) - np.percentile(height, 2))


class _Gait:
    """The phase-driven parts of one walk: pelvis path, planted feet, swing trajectories."""

    def __init__(self, body: BodyShape, style: GaitStyle, carriage: Carriage, first_phase: float, last_phase: float):
        self.body = body
        self.style = style
        self.carriage = carriage
        # Stride length follows leg length more closely than stature: a long-torsoed person
        # does not take longer steps.
        self.stride_length = style["stride_ratio"] * body.leg / LEG_RATIO
        self.toe_off = style["toe_off"]
        self.heel_off = self.toe_off - TOE_ROCKER_LENGTH
        self.toe_out = np.radians(style["toe_out"])
        self.ankle_height = body.ankle_height + carriage.sole
        self.heel_back = HEEL_BACK * body.foot
        self.toe_front = (1.0 - HEEL_BACK) * body.foot
        # The walk is centred on x = 0.
        self.x0 = -self.stride_length * 0.5 * (first_phase + last_phase)
        self.nominal_hip_height = body.leg + self.ankle_height
        self.pitch_at_strike = [
            np.clip(self._curve_pitch(s, np.array([0.0]))[0], np.radians(3), np.radians(30)) for s in (0, 1)
        ]
        self.pitch_at_toe_off = [
            np.clip(self._curve_pitch(s, np.array([self.toe_off]))[0], np.radians(-70), np.radians(-40)) for s in (0, 1)
        ]
        # Where the heel lands relative to the hip, from the curve at heel strike.
        self.heel_ahead = []
        for s in (0, 1):
            ankle_rel = self._curve_ankle(s, np.array([0.0]))[0]
            heel_rel = ankle_rel + _rotate2(np.array([-self.heel_back, -self.ankle_height]), self.pitch_at_strike[s])
            # The curve proposes; the stride bounds it so that the pelvis stays between the
            # feet in double support (otherwise the trailing leg cannot reach).
            low, high = (fraction * self.stride_length for fraction in HEEL_AHEAD_RANGE)
            self.heel_ahead.append(float(np.clip(heel_rel[0, 0], low, high)))

    # --- pelvis and trunk, functions of the right side's phase ---
    def side_delay(self, side: int) -> float:
        return 0.0 if side == 0 else 0.5 + self.style.left_delay

    def pelvis_x(self, phase: np.ndarray) -> np.ndarray:
        return self.x0 + self.stride_length * phase

    def pelvis_z(self, phase: np.ndarray) -> np.ndarray:
        # Sways towards the stance leg: right (+z) in the right stance around phase 0.25.
        return self.style["sway"] * np.sin(2 * np.pi * phase)

    def pelvis_yaw(self, phase: np.ndarray) -> np.ndarray:
        # Right hip forward at right heel strike.
        return np.radians(self.style["pelvis_rotation"]) * np.cos(2 * np.pi * phase)

    def thorax_yaw(self, phase: np.ndarray) -> np.ndarray:
        return -np.radians(self.style["thorax_rotation"]) * np.cos(2 * np.pi * phase)

    def pelvis_rotation(self, phase: np.ndarray) -> np.ndarray:
        # The swing side drops: left side low (negative roll) in the right stance.
        roll = -np.radians(self.style["pelvis_obliquity"]) * np.sin(2 * np.pi * phase + 0.3)
        tilt = np.radians(self.style["pelvis_tilt"] + 1.5 * np.cos(4 * np.pi * phase))
        return _rotation_y(self.pelvis_yaw(phase)) @ _rotation_x(roll) @ _rotation_z(-tilt)

    def trunk_rotation(self, phase: np.ndarray) -> np.ndarray:
        roll = 0.3 * np.radians(self.style["pelvis_obliquity"]) * np.sin(2 * np.pi * phase + 0.3)
        lean = np.radians(self.style["lean"] + self.carriage.lean) + 0.01 * np.cos(4 * np.pi * phase)
        return _rotation_y(self.thorax_yaw(phase)) @ _rotation_x(roll) @ _rotation_z(-lean)

    def head_rotation(self, phase: np.ndarray) -> np.ndarray:
        pitch = np.radians(0.3 * (self.style["lean"] + self.carriage.lean) + self.style["head_pitch"])
        return _rotation_y(0.5 * self.thorax_yaw(phase)) @ _rotation_z(np.full_like(phase, -pitch))

    def hip_dx(self, side: int, phase: np.ndarray) -> np.ndarray:
        """Forward offset of a hip joint from the pelvis centre (pelvis rotation)."""
        return SIDE_SIGN[side] * self.body.hip_spacing / 2 * np.sin(self.pelvis_yaw(phase))

    # --- legs ---
    def foot_direction(self, side: int) -> np.ndarray:
        return np.array([np.cos(self.toe_out), 0.0, SIDE_SIGN[side] * np.sin(self.toe_out)])

    def _curve_angles(self, side: int, u: np.ndarray, hip_jitter=0.0, knee_jitter=0.0):
        curves = self.style.side(side)
        thigh = np.radians(curves["hip"](u) + hip_jitter - self.style["pelvis_tilt"])
        shank = thigh - np.radians(curves["knee"](u) + knee_jitter)
        return thigh, shank

    def _curve_ankle(self, side: int, u: np.ndarray, hip_jitter=0.0, knee_jitter=0.0) -> np.ndarray:
        """(N, 2) ankle relative to the hip in the sagittal plane (forward, up)."""
        thigh, shank = self._curve_angles(side, u, hip_jitter, knee_jitter)
        return np.stack(
            [self.body.thigh * np.sin(thigh) + self.body.shank * np.sin(shank),
             -self.body.thigh * np.cos(thigh) - self.body.shank * np.cos(shank)],
            axis=-1,
        )

    def _curve_pitch(self, side: int, u: np.ndarray, hip_jitter=0.0, knee_jitter=0.0) -> np.ndarray:
        _, shank = self._curve_angles(side, u, hip_jitter, knee_jitter)
        ankle = self.carriage.ankle_range * self.style.side(side)["ankle"](u)
        return shank - np.radians(ankle)

    def heel_strike(self, side: int, stride: np.ndarray) -> np.ndarray:
        """(N, 3) where the heel lands at the start of stride `stride` of this side."""
        phase = stride + self.side_delay(side)
        x = self.pelvis_x(phase) + self.hip_dx(side, phase) + self.heel_ahead[side]
        out = np.zeros((len(stride), 3))
        out[:, 0] = x
        out[:, 2] = SIDE_SIGN[side] * self.style["step_width"] / 2
        return out

    def stance_ankle(self, side: int, stride: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ankle (N, 3) and foot pitch (N,) of a planted foot rolling heel -> flat -> toe.

        `u` outside [0, toe_off) is clamped into it (the caller masks those frames).
        """
        u = np.clip(u, 0.0, self.toe_off)
        heel = self.heel_strike(side, stride)
        direction = self.foot_direction(side)
        strike_pitch = self.pitch_at_strike[side]
        toe_off_pitch = self.pitch_at_toe_off[side]
        rocker_in = _smoothstep(1.0 - u / HEEL_ROCKER_END)
        rocker_out = _smoothstep((u - self.heel_off) / (self.toe_off - self.heel_off))
        pitch = strike_pitch * rocker_in + toe_off_pitch * rocker_out
        # Heel pivot until heel-off, toe pivot after; in between both give the same ankle.
        from_heel = _rotate2(np.array([self.heel_back, self.ankle_height]), pitch)
        toe_point = heel + direction * (self.heel_back + self.toe_front)
        from_toe = _rotate2(np.array([-self.toe_front, self.ankle_height]), pitch)
        use_toe = (u >= self.heel_off)[:, None]
        base = np.where(use_toe, toe_point, heel)
        sagittal = np.where(use_toe, from_toe, from_heel)
        ankle = base + sagittal[:, :1] * direction + sagittal[:, 1:] * UP
        return ankle, pitch

    def swing_ankle(
        self, side: int, stride: np.ndarray, u: np.ndarray, phase: np.ndarray, hip_jitter: np.ndarray, knee_jitter: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ankle (N, 3) and pitch (N,) of a swinging foot from toe-off to the next heel strike.

        The curve's own ankle path (relative to a hip at nominal height) is shifted by a
        correction that blends from "where the stance ended" to "where the next one starts".
        """
        n = len(u)
        delay = self.side_delay(side)
        swing = np.clip((u - self.toe_off) / (1.0 - self.toe_off), 0.0, 1.0)
        blend = _smoothstep(swing)
        start, _ = self.stance_ankle(side, stride, np.full(n, self.toe_off))
        end, _ = self.stance_ankle(side, stride + 1, np.zeros(n))

        def curve_world(uu: np.ndarray, ph: np.ndarray, hj=0.0, kj=0.0) -> np.ndarray:
            rel = self._curve_ankle(side, uu, hj, kj)
            out = np.zeros((len(uu), 3))
            out[:, 0] = self.pelvis_x(ph) + self.hip_dx(side, ph) + rel[:, 0]
            out[:, 1] = self.nominal_hip_height + rel[:, 1]
            out[:, 2] = SIDE_SIGN[side] * self.style["step_width"] / 2
            return out

        toe_off_phase = stride + delay + self.toe_off
        strike_phase = stride + 1 + delay
        fix_start = start - curve_world(np.full(n, self.toe_off), toe_off_phase)
        fix_end = end - curve_world(np.ones(n), strike_phase)
        ankle = curve_world(u, phase, hip_jitter, knee_jitter) + (1 - blend)[:, None] * fix_start + blend[:, None] * fix_end
        ankle[:, 2] += SIDE_SIGN[side] * 0.012 * np.sin(np.pi * swing)  # slight outward arc
        pitch_fix_start = self.pitch_at_toe_off[side] - self._curve_pitch(side, np.array([self.toe_off]))[0]
        pitch_fix_end = self.pitch_at_strike[side] - self._curve_pitch(side, np.array([1.0]))[0]
        pitch = self._curve_pitch(side, u, hip_jitter, knee_jitter) + (1 - blend) * pitch_fix_start + blend * pitch_fix_end
        # Lift a foot that would dip into the ground.
        heel, toe = self.foot_points(side, ankle, pitch)
        dip = np.maximum(0.0, -np.minimum(heel[:, 1], toe[:, 1]))
        ankle[:, 1] += dip
        return ankle, pitch

    def foot_points(self, side: int, ankle: np.ndarray, pitch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heel and toe sole points (N, 3) of a foot with this ankle and pitch."""
        direction = self.foot_direction(side)
        back = _rotate2(np.array([-self.heel_back, -self.ankle_height]), pitch)
        front = _rotate2(np.array([self.toe_front, -self.ankle_height]), pitch)
        heel = ankle + back[:, :1] * direction + back[:, 1:] * UP
        toe = ankle + front[:, :1] * direction + front[:, 1:] * UP
        return heel, toe


def _phase_track(
    start: float, frequency: float, fps: float, frames: int, rng: np.random.Generator, cv: float
) -> np.ndarray:
    """(T,) phase in cycles; each stride's duration varies by `cv`, smoothly joined."""
    strides = int(np.ceil(frames / fps * frequency * 1.5)) + 3
    factors = 1.0 + cv * rng.standard_normal(strides)
    phase = np.empty(frames)
    phase[0] = start
    for i in range(1, frames):
        # Piecewise-linear multiplier over stride numbers (counted from the start).
        position = phase[i - 1] - start
        k = min(int(position), strides - 2)
        frac = position - k
        multiplier = factors[k] * (1 - frac) + factors[k + 1] * frac
        phase[i] = phase[i - 1] + frequency * multiplier / fps
    return phase


def _settled_height(soft: np.ndarray, hard: np.ndarray, fps: float) -> np.ndarray:
    """(T,) pelvis height: under both limits, without popping up when a trailing leg lifts.

    A running minimum over PELVIS_SETTLE_S followed by a Gaussian of a sixth of it stays under
    the input (the Gaussian's mass lies inside the minimum's window) but turns a sudden rise
    into a smooth one; the hard limit (a straight leg's reach) is enforced again at the end.
    """
    height = np.minimum(soft, hard)
    window = int(round(PELVIS_SETTLE_S * fps))
    if window >= 2:
        half = window // 2
        padded = np.pad(height, half, mode="edge")
        height = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1).min(axis=1)
        height = _gaussian_smooth(height, (2 * half + 1) / 6.0)
    return np.minimum(height, hard)


def _smooth_noise(rng: np.random.Generator, frames: int, fps: float, sd: float) -> np.ndarray:
    """(T,) Gaussian noise low-passed over about 60 ms, with standard deviation `sd`."""
    white = rng.standard_normal(frames)
    if sd == 0.0:
        return np.zeros(frames)
    smooth = _gaussian_smooth(white, 0.06 * fps)
    spread = smooth.std()
    return sd * smooth / spread if spread > 0 else np.zeros(frames)


def _gaussian_smooth(signal: np.ndarray, sigma_frames: float) -> np.ndarray:
    if sigma_frames < 0.3:
        return signal
    radius = int(np.ceil(3 * sigma_frames))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_frames) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(signal, radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _rotate2(vector: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(N, 2): the 2-D `vector` (forward, up) rotated by `angle` (N,) radians, toes up positive."""
    angle = np.atleast_1d(angle)
    c, s = np.cos(angle), np.sin(angle)
    return np.stack([vector[0] * c - vector[1] * s, vector[0] * s + vector[1] * c], axis=-1)


def _arm_direction(flexion: np.ndarray, abduction: float, side_sign: float) -> np.ndarray:
    """(T, 3) unit direction of an arm segment hanging down, swung forward by `flexion`."""
    c = np.cos(abduction)
    out = np.stack([np.sin(flexion) * c, -np.cos(flexion) * c, np.full_like(flexion, side_sign * np.sin(abduction))], axis=-1)
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def _rotation_x(angle: np.ndarray) -> np.ndarray:
    angle = np.atleast_1d(angle)
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((len(angle), 3, 3))
    out[:, 0, 0] = 1
    out[:, 1, 1], out[:, 1, 2] = c, -s
    out[:, 2, 1], out[:, 2, 2] = s, c
    return out


def _rotation_y(angle: np.ndarray) -> np.ndarray:
    angle = np.atleast_1d(angle)
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((len(angle), 3, 3))
    out[:, 1, 1] = 1
    out[:, 0, 0], out[:, 0, 2] = c, s
    out[:, 2, 0], out[:, 2, 2] = -s, c
    return out


def _rotation_z(angle: np.ndarray) -> np.ndarray:
    angle = np.atleast_1d(angle)
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros((len(angle), 3, 3))
    out[:, 2, 2] = 1
    out[:, 0, 0], out[:, 0, 1] = c, -s
    out[:, 1, 0], out[:, 1, 1] = s, c
    return out
