"""The traffic simulation behind every synthetic clip: ego motion, lead / adjacent / oncoming vehicles,
camera shake, road bumps, and the crash event of a crash clip. Times are simulation steps at ``SIM_FPS``,
distances metres, speeds m/s. The per-clip appearance (:class:`Style`) is sampled here too, by one sampler
for both sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from riskvision.data.sources.synthetic.sizes import SyntheticSizes

SIM_FPS = 30  # simulation rate; DoTA frames are every third simulation step
LANE = 3.5  # lane width, m
ROADSIDE_PERIOD = 120.0  # roadside objects repeat every this many metres, m
WARNING_S = 2.0  # the struck vehicle closes in visibly over this long before a crash's anomaly span, s

GROUND_COLOURS = ((70, 110, 55), (120, 110, 80), (95, 95, 90), (140, 140, 130))  # grass, dirt, gravel, pavement
ROADSIDE_SIZES = (
    ((0.3, 0.3), (3, 7)),
    ((1.5, 3), (4, 9)),
    ((6, 15), (5, 14)),
)  # post, tree, building: (w, h) ranges, m
# (accident_id, accident_name, ego_involve, weight): the crash scenarios this generator can render
CRASH_KINDS = (
    (2, "moving_ahead_or_waiting", True, 0.3),
    (1, "start_stop_or_stationary", True, 0.2),
    (3, "lateral", True, 0.3),
    (3, "lateral", False, 0.2),
)


@dataclass
class Vehicle:
    """One vehicle over the simulation steps (rear face, or front face when ``oncoming``).

    Attributes:
        x: lateral position of its centre, m, ``[n]`` (ego lane centre 0, right positive).
        d: forward distance from the camera to its near face, m, ``[n]``.
        brake: brake lights on, bool ``[n]``.
    """

    x: np.ndarray
    d: np.ndarray
    brake: np.ndarray
    width: float
    height: float
    colour: np.ndarray
    oncoming: bool = False
    track_id: int = 0


@dataclass
class Style:
    """Per-clip appearance (shared sampler for both sources)."""

    night: bool
    sky_top: np.ndarray
    sky_horizon: np.ndarray
    ground: np.ndarray
    road: np.ndarray
    marking: np.ndarray
    centre_marking: np.ndarray
    skyline: np.ndarray  # height above the horizon per column, fraction of frame height, [2W]
    skyline_colour: np.ndarray
    gain: float
    roadside: list[tuple[float, float, float, float, np.ndarray]]  # (x, z0, width, height, colour)


@dataclass
class Scene:
    """Everything the renderer needs, sampled at ``SIM_FPS``.

    Attributes:
        n: number of simulation steps.
        s: distance the ego vehicle has travelled, m, ``[n]``.
        ego_speed: m/s, ``[n]``.
        pitch, yaw: camera shake, fraction of frame height / width, ``[n]``.
        curve: road curvature (lateral offset = curve * z^2), 1/m, ``[n]``.
        cruise, closest: the ego's free speed, m/s, and the closest it follows the lead, m.
    """

    n: int
    width: int
    height: int
    style: Style
    s: np.ndarray
    ego_speed: np.ndarray
    pitch: np.ndarray
    yaw: np.ndarray
    curve: np.ndarray
    cruise: float = 10.0
    closest: float = 2.0
    wobble: np.ndarray | None = None  # ego speed modulation, [n]
    vehicles: list[Vehicle] = field(default_factory=list)
    lead: int = 0
    noise: np.ndarray | None = None  # bank of noise images, [K, H, W, 1]


@dataclass(frozen=True)
class CrashEvent:
    """A crash in simulation steps: onset of the fast closing, impact, end of the anomaly (exclusive)."""

    accident_id: int
    name: str
    ego: bool
    onset: int
    impact: int
    end: int
    involved: tuple[int, ...]  # indices into Scene.vehicles


def _smooth(rng: np.random.Generator, n: int, periods: tuple[float, float], k: int = 3) -> np.ndarray:
    """Smooth random signal in [-1, 1]: a sum of ``k`` sinusoids with periods in seconds, ``[n]``."""
    t = np.arange(n) / SIM_FPS
    weights = rng.dirichlet(np.ones(k))
    out = np.zeros(n)
    for w in weights:
        out += w * np.sin(2 * np.pi * t / rng.uniform(*periods) + rng.uniform(0, 2 * np.pi))
    return out


def _shake(rng: np.random.Generator, n: int, at: int, amplitude: float) -> np.ndarray:
    """A damped oscillation starting at step ``at`` (a bump or an impact), ``[n]``."""
    t = np.maximum(np.arange(n) - at, 0) / SIM_FPS
    wave = amplitude * np.exp(-t / rng.uniform(0.15, 0.35)) * np.sin(2 * np.pi * rng.uniform(4, 8) * t)
    return np.where(np.arange(n) >= at, wave, 0.0)


def _jolt(rng: np.random.Generator, scene: Scene, at: int, amplitude: float) -> None:
    """Shake the camera from step ``at`` (bumps and impacts alike): pitch ``amplitude`` (fraction of H), smaller yaw."""
    scene.pitch += _shake(rng, scene.n, at, amplitude)
    scene.yaw += _shake(rng, scene.n, at, amplitude * rng.uniform(0.1, 0.4))


def sample_style(rng: np.random.Generator, width: int, night: bool) -> Style:
    """Palette, skyline and roadside objects for one clip."""
    tint = rng.uniform(-12, 12, 3)
    sky_top = np.array([70, 120, 200]) * rng.uniform(0.6, 1.1) + tint
    sky_horizon = np.array([190, 205, 220]) * rng.uniform(0.75, 1.05) + tint
    ground = np.array(rng.choice(GROUND_COLOURS)) * rng.uniform(0.8, 1.2)
    road = np.full(3, rng.uniform(70, 125)) + rng.uniform(-6, 6, 3)
    marking = np.array([225, 225, 220]) * rng.uniform(0.8, 1.0)
    centre = np.array([220, 190, 60]) if rng.random() < 0.5 else marking
    skyline = np.repeat(np.abs(_smooth(rng, 2 * width // 4 + 1, (0.3, 2.0), 4)), 4)[: 2 * width]
    skyline = skyline * rng.uniform(0.03, 0.18) + (rng.random(2 * width) < 0.02) * rng.uniform(0, 0.1)
    roadside = []
    for _ in range(int(rng.integers(4, 12))):
        side = rng.choice([-1, 1])
        kind = rng.integers(3)  # post, tree, building
        (w0, w1), (h0, h1) = ROADSIDE_SIZES[kind]
        w, h = rng.uniform(w0, w1), rng.uniform(h0, h1)
        x = side * (1.5 * LANE + rng.uniform(1, 3) + (w / 2 if kind == 2 else 0) + 2 * (kind == 2))
        colour = np.array([[120, 120, 120], [50, 100, 45], [150, 130, 115]][kind]) * rng.uniform(0.6, 1.3)
        roadside.append((float(x), float(rng.uniform(0, ROADSIDE_PERIOD)), float(w), float(h), colour))
    return Style(
        night,
        sky_top,
        sky_horizon,
        ground,
        road,
        marking,
        centre,
        skyline,
        np.array([90, 100, 110]) * rng.uniform(0.6, 1.2),
        float(rng.uniform(0.85, 1.15)),
        roadside,
    )


def _vehicle_colour(rng: np.random.Generator) -> np.ndarray:
    base = [
        [200, 200, 205],
        [40, 40, 45],
        [150, 30, 30],
        [30, 60, 140],
        [120, 120, 125],
        [230, 230, 225],
        [60, 90, 60],
        [180, 150, 60],
    ]
    return np.array(base[int(rng.integers(len(base)))]) * rng.uniform(0.8, 1.1)


def _closing(d: np.ndarray) -> np.ndarray:
    """Steps where the gap ``d`` (m, ``[n]``) shrinks faster than 0.3 m/s: the vehicle ahead brakes, bool ``[n]``."""
    return np.r_[0.0, np.diff(d)] * SIM_FPS < -0.3


def _new_vehicle(
    rng: np.random.Generator, x: np.ndarray, d: np.ndarray, track_id: int, oncoming: bool = False
) -> Vehicle:
    van = rng.random() < 0.25
    width = rng.uniform(1.9, 2.2) if van else rng.uniform(1.6, 1.9)
    height = rng.uniform(2.0, 2.6) if van else rng.uniform(1.3, 1.6)
    brake = _closing(d)
    return Vehicle(x, d, brake, width, height, _vehicle_colour(rng), oncoming, track_id)


def simulate_scene(rng: np.random.Generator, n: int, config: SyntheticSizes, night: bool = False) -> Scene:
    """Normal traffic for ``n`` simulation steps: lead car, adjacent lanes, oncoming, bumps."""
    style = sample_style(rng, config.width, night)
    closest = rng.uniform(1.9, 2.4)
    # normal following: slow changes of the gap (about 0.2 of the distance per second); a crash's warning closes
    # faster (add_crash), so only motion tells the two apart
    lead_d = np.clip(np.exp(np.log(rng.uniform(2, 9)) + rng.uniform(0.2, 0.6) * _smooth(rng, n, (8, 20))), closest, 45)
    scene = Scene(
        n,
        config.width,
        config.height,
        style,
        np.zeros(n),
        np.zeros(n),
        0.004 * _smooth(rng, n, (0.3, 1.5)),
        0.006 * _smooth(rng, n, (0.5, 3)),
        rng.uniform(-1, 1) * 0.002 * (1 + 0.3 * _smooth(rng, n, (5, 15))),
        cruise=rng.uniform(6, 18),
        closest=closest,
        wobble=0.85 + 0.15 * _smooth(rng, n, (2, 6)),
    )
    _set_ego_speed(scene, _follow_speed(scene, lead_d))
    for _ in range(rng.poisson(0.15 * n / SIM_FPS)):  # road bumps
        _jolt(rng, scene, int(rng.integers(n)), rng.uniform(0.01, 0.06))
    scene.vehicles.append(_new_vehicle(rng, 0.5 * _smooth(rng, n, (3, 9)) * rng.uniform(0.2, 1.0), lead_d, 0))
    scene.vehicles[0].brake |= scene.ego_speed < 2.0
    _add_adjacent(rng, scene)
    _add_oncoming(rng, scene)
    scene.noise = rng.normal(0, 1, (6, config.height, config.width, 1)).astype(np.float32)
    return scene


def _follow_speed(scene: Scene, lead_d: np.ndarray) -> np.ndarray:
    """Car-following ego speed, m/s ``[n]``: cruise when the lead is far, stopped when it is closest."""
    return scene.cruise * np.clip((lead_d - scene.closest) / 10, 0, 1) ** 0.6 * scene.wobble


def _set_ego_speed(scene: Scene, speed: np.ndarray) -> None:
    """Set the ego speed, m/s ``[n]``, and the distance travelled, m ``[n]``."""
    scene.ego_speed = speed
    scene.s = np.cumsum(speed) / SIM_FPS


def _add_adjacent(rng: np.random.Generator, scene: Scene) -> None:
    """Same-direction vehicles in the side lanes: they drift towards the lane line and pass close."""
    for _ in range(int(rng.integers(1, 4))):
        lane = rng.choice([-1.0, 1.0]) * LANE
        x = lane - np.sign(lane) * np.clip(rng.uniform(0, 1.8) * (0.5 + 0.5 * _smooth(rng, scene.n, (2, 8))), 0, 1.9)
        d = rng.uniform(-5, 30) + rng.uniform(3, 15) * _smooth(rng, scene.n, (6, 16))
        scene.vehicles.append(_new_vehicle(rng, x, d, len(scene.vehicles)))


def _add_oncoming(rng: np.random.Generator, scene: Scene) -> None:
    """Vehicles in the far-left lane driving towards the camera."""
    for _ in range(rng.poisson(0.2 * scene.n / SIM_FPS)):
        speed = rng.uniform(8, 16)
        d = rng.uniform(20, 120) - (speed * np.arange(scene.n) / SIM_FPS + scene.s)
        x = np.full(scene.n, -LANE * rng.uniform(0.9, 1.1))
        scene.vehicles.append(_new_vehicle(rng, x, d, len(scene.vehicles), oncoming=True))


# ============================================================================ the crash event


def add_crash(scene: Scene, rng: np.random.Generator) -> CrashEvent:
    """Turn a normal scene into a crash: fast closing, impact inside the anomaly span, jolt, stop."""
    weights = np.array([k[3] for k in CRASH_KINDS])
    accident_id, name, ego, _ = CRASH_KINDS[int(rng.choice(len(CRASH_KINDS), p=weights / weights.sum()))]
    n = scene.n
    onset = int(rng.uniform(0.3, 0.6) * n)
    if not ego:
        return _other_crash(scene, rng, accident_id, name, onset)
    if name == "lateral":
        victim = _cut_in_vehicle(scene, rng, onset)
    else:
        victim = scene.lead
    closing = rng.uniform(7, 14)  # m/s
    warning_closing = rng.uniform(4, 7)  # m/s, over the WARNING_S before the onset
    d_on = rng.uniform(4, 8)
    contact = rng.uniform(1.9, 2.3)
    impact = min(onset + max(2, round((d_on - contact) / closing * SIM_FPS)), n - 4)
    end = max(min(n, impact + round(rng.uniform(0.6, 1.6) * SIM_FPS)), impact + 1)
    settle = _settle(n, impact, end)  # the struck vehicle is pushed ahead and sideways until it rests at `end`
    car = scene.vehicles[victim]
    car.d = _crash_distance(car.d, onset, impact, d_on, warning_closing, contact, rng.uniform(0.5, 2.0) * settle)
    car.x = car.x + rng.choice([-1.0, 1.0]) * rng.uniform(0.8, 1.6) * settle
    car.brake = car.brake | _closing(car.d) | (np.arange(n) >= onset)
    lead = scene.vehicles[scene.lead]
    if victim != scene.lead:  # the old lead must stay ahead of the car that cut in
        lead.d = np.maximum(lead.d, car.d + 7)
    speed = _follow_speed(scene, lead.d if victim != scene.lead else car.d)
    speed[onset:impact] = np.maximum(speed[onset:impact], closing)
    _stop_ego(scene, speed, impact, tau=0.12)
    _jolt(rng, scene, impact, rng.uniform(0.03, 0.06))
    return CrashEvent(accident_id, name, True, onset, impact, end, (victim,))


def _ramp(n: int, at: int, seconds: float) -> np.ndarray:
    """0 before step ``at``, rising smoothly to 1 over ``seconds``, ``[n]``."""
    t = np.clip((np.arange(n) - at) / (seconds * SIM_FPS), 0, 1)
    return t * t * (3 - 2 * t)


def _settle(n: int, at: int, end: int) -> np.ndarray:
    """0 up to step ``at``, then ``1 - (1 - t)^2`` with ``t`` from 0 at ``at`` to 1 at ``end``: a motion that is
    fastest at the impact and at rest from ``end`` (the end of the anomaly span), ``[n]``."""
    t = np.clip((np.arange(n) - at) / max(1, end - at), 0, 1)
    return 1 - (1 - t) ** 2


def _crash_distance(
    d: np.ndarray, onset: int, impact: int, d_on: float, warning_closing: float, contact: float, push: np.ndarray
) -> np.ndarray:
    """Distance to the struck vehicle, m, ``[n]``.

    Before the warning the vehicle keeps its normal motion, its gap scaled so that the warning starts at
    ``d_on + warning_closing * WARNING_S``; over the ``WARNING_S`` before ``onset`` it closes at
    ``warning_closing`` m/s to ``d_on`` (visible and closing in, faster than normal following); from ``onset``
    it closes linearly to ``contact`` at ``impact``, then is pushed ahead by ``push`` (m, ``[n]``).
    """
    n = len(d)
    steps = np.arange(n)
    start = onset - round(WARNING_S * SIM_FPS)
    d_start = d_on + warning_closing * WARNING_S
    before = d * (d_start / d[max(start, 0)])
    warning = d_on + warning_closing * (onset - steps) / SIM_FPS
    frac = np.clip((steps - onset) / max(1, impact - onset), 0, 1)
    out = np.where(steps < start, before, np.where(steps < onset, warning, d_on + (contact - d_on) * frac))
    after = steps > impact
    return np.where(after, contact + push, out)


def _stop_ego(scene: Scene, speed: np.ndarray, at: int, tau: float) -> None:
    """Ego speed ``speed`` (m/s, ``[n]``) before step ``at``, then an exponential stop (``tau`` s)."""
    steps = np.arange(scene.n)
    decay = np.exp(-np.maximum(steps - at, 0) / (tau * SIM_FPS))
    _set_ego_speed(scene, np.where(steps < at, speed, speed[at] * decay * (decay > 0.02)))


def _cut_in_vehicle(scene: Scene, rng: np.random.Generator, onset: int) -> int:
    """An adjacent vehicle that swerves into the ego lane in front of the ego vehicle before ``onset``."""
    n = scene.n
    side = rng.choice([-1.0, 1.0])
    x = side * LANE + (rng.uniform(-0.4, 0.4) - side * LANE) * _ramp(n, onset - int(0.8 * SIM_FPS), 1.2)
    d = np.full(n, 1.0) * rng.uniform(8, 16) + 3 * _smooth(rng, n, (4, 10))
    scene.vehicles.append(_new_vehicle(rng, x, d, len(scene.vehicles)))
    return len(scene.vehicles) - 1


def _other_crash(scene: Scene, rng: np.random.Generator, accident_id: int, name: str, onset: int) -> CrashEvent:
    """Two other vehicles collide ahead (an adjacent car swerves into the lead, both skid); the ego brakes hard."""
    n, steps = scene.n, np.arange(scene.n)
    lead = scene.vehicles[scene.lead]
    d_col = rng.uniform(5, 8)
    impact = min(onset + round(rng.uniform(0.3, 0.6) * SIM_FPS), n - 4)
    end = max(min(n, impact + round(rng.uniform(0.8, 1.6) * SIM_FPS)), impact + 1)
    lead.d = lead.d * (d_col / lead.d[onset]) ** _ramp(n, onset - 2 * SIM_FPS, 2.0)
    cap = min(scene.cruise, 2 * (d_col - 2.5))  # so that the ego stops short of the wreck
    speed = np.where(steps >= onset - SIM_FPS, cap, np.minimum(_follow_speed(scene, lead.d), cap))
    side = rng.choice([-1.0, 1.0])
    x = side * LANE + (lead.x[impact] + side * 1.8 - side * LANE) * _ramp(n, onset, (impact - onset) / SIM_FPS)
    other = _new_vehicle(rng, x, lead.d + rng.uniform(-0.8, 0.8), len(scene.vehicles))
    scene.vehicles.append(other)
    skid = -side * rng.uniform(1.5, 3.0) * _settle(n, impact, end)  # both skid until they rest at `end`
    lead.x, other.x = lead.x + skid, other.x + 0.7 * skid
    _stop_ego(scene, speed, min(impact + int(0.2 * SIM_FPS), n - 1), tau=0.3)
    travelled = scene.s - scene.s[impact]
    lead.d = np.where(steps > impact, d_col - travelled, lead.d)
    other.d = np.where(steps > impact, lead.d + other.d[impact] - d_col, other.d)
    for car in (lead, other):
        car.brake = car.brake | (steps >= impact)
    _jolt(rng, scene, impact + int(0.2 * SIM_FPS), rng.uniform(0.02, 0.04))
    involved = (scene.lead, len(scene.vehicles) - 1)
    return CrashEvent(accident_id, name, False, onset, impact, end, involved)
