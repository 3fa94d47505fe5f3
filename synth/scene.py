"""Several walkers at once before one static camera, with the true box and identity of each.

A scene is the ground truth for person detection and tracking in footage: 2 to 4 people walk
straight lines across the view at different depths, so their paths cross in the image and the
nearer one hides part of the farther one; they enter and leave the frame at their own times.
Nothing pans: the camera stands still, as for surveillance footage (`vtest.avi`).

Each walker is a person of the synthetic walker (body, gait, kinematics, outfit, figure) whose
straight walk along +x is turned and moved onto its lane. Every walker is rasterised into its own
z-buffer and the buffers are composited by depth, so the scene knows per pixel who is seen and
per walker the pixels it would cover alone: its box (whole walker, in the frame) and its visible
share come from the pixels themselves, not from a guess.

Seeds: walker k's person, walk and outfit come from (seed, SCENE, k, ...) generators, the camera,
background and lighting from (seed, SCENE, 0, PLACE). Scenes use a stream of their own, so
nothing here shifts the draws of the archives (synth.archive).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from synth import seeds
from synth.body import sample_body
from synth.camera import PanningCamera
from synth.covariates import sample_lighting, sample_walk_covariates
from synth.figure import Figure, dress
from synth.gait import at_speed, norm_style, perturbed
from synth.kinematics import walk_motion
from synth.raster import Lights, RasterBuffers, draw_capsule, draw_ellipsoid
from synth.render import CHUNK_PIXELS
from synth.scenery import make_panorama, sample_scene_style, shadow_factor
from synth.skeleton import ANKLE, HEAD_TOP, KNEE, PELVIS, THORAX

# Components after (seed, SCENE): which walker (1..N; 0 is the scene itself), then what for.
PLACE, PERSON, WALK, OUTFIT, NOISE = range(5)
CAMERA_HEIGHT = 2.6  # metres: a camera above head height looks down a little, like CCTV
MIDDLE_DEPTH = 8.5  # metres from the camera to the middle of the walking area
DEPTH_RANGE = (6.0, 11.0)  # lanes lie between these depths
HALF_VIEW = 2.8  # metres seen either side of the axis at MIDDLE_DEPTH


@dataclasses.dataclass(frozen=True)
class SceneSpec:
    """What scene to render.

    Attributes:
      walkers: people in the scene, 2..4.
      frames: frames T.
      size: frame width = height in pixels (even).
      fps: frames per second.
      seed: the scene's integer seed.
      noise: standard deviation of sensor noise, grey levels.
    """

    walkers: int = 3
    frames: int = 150
    size: int = 320
    fps: float = 25.0
    seed: int = 0
    noise: float = 2.0

    def __post_init__(self) -> None:
        for name, low, high in (("walkers", 2, 4), ("frames", 8, 5000), ("size", 32, 1024), ("seed", 0, 2**63 - 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.size % 2:
            raise ValueError(f"size must be even (video chroma subsampling), got {self.size}")
        if not 1.0 <= float(self.fps) <= 120.0:
            raise ValueError(f"fps must be in [1, 120], got {self.fps}")
        if not 0.0 <= float(self.noise) <= 20.0:
            raise ValueError(f"noise must be in [0, 20] grey levels, got {self.noise}")


@dataclasses.dataclass(frozen=True)
class Lane:
    """Where and when one walker crosses the view (world metres, frames).

    Attributes:
      heading: radians of the walking direction from +x towards +z (0 or pi give a walk
        across the view, a little off that a walk that also nears or leaves the camera).
      depth: z of the walk's point on the view's axis (x = cross_x).
      cross_x: x where the walker is at frame `cross_frame`.
      cross_frame: the frame at which the pelvis passes (cross_x, depth).
    """

    heading: float
    depth: float
    cross_x: float
    cross_frame: float


@dataclasses.dataclass(frozen=True, eq=False)
class RenderedScene:
    """A rendered scene and its ground truth; walker k has identity k (0..N-1).

    Attributes:
      frames: (T, S, S, 3) uint8 RGB.
      boxes: (T, N, 4) float64 (x0, y0, x1, y1), x1/y1 exclusive: the pixels walker k would
        cover alone (occluders ignored), within the frame; NaN where none is in the frame.
      visible_boxes: (T, N, 4) float64 the pixels where walker k is seen; NaN where none.
      pixels: (T, N) int64 pixels walker k would cover alone (within the frame).
      visible_pixels: (T, N) int64 pixels where walker k is seen.
      in_frame: (T, N) float64 share of walker k's whole (unclipped) extent inside the frame,
        from its projected joints padded by its limbs: 0 outside, 1 wholly inside.
      joints_xy: (T, N, 16, 2) float64 projected MPII joints (x right, y down).
      lanes: per walker its Lane.
      fps: frames per second.
    """

    frames: np.ndarray
    boxes: np.ndarray
    visible_boxes: np.ndarray
    pixels: np.ndarray
    visible_pixels: np.ndarray
    in_frame: np.ndarray
    joints_xy: np.ndarray
    lanes: tuple[Lane, ...]
    fps: float

    @property
    def visibility(self) -> np.ndarray:
        """(T, N) share of walker k's pixels that are seen (0 where it covers none)."""
        return np.where(self.pixels > 0, self.visible_pixels / np.maximum(self.pixels, 1), 0.0)

    def present(self, min_in_frame: float = 0.4, min_pixels: int = 30) -> np.ndarray:
        """(T, N) bool: walker k counts as in the scene at frame t (ground truth a tracker is
        scored against): at least `min_in_frame` of it inside the frame and `min_pixels` of
        it drawn there. Occluded walkers still count: a tracker should keep them."""
        return (self.in_frame >= min_in_frame) & (self.pixels >= min_pixels)


def static_camera(spec: SceneSpec) -> PanningCamera:
    """The scene's camera: at the origin, CAMERA_HEIGHT up, looking along +z, never moving.

    Image x runs towards world -x (the camera's right is -x when it faces +z).
    """
    focal = (spec.size / 2.0) * MIDDLE_DEPTH / HALF_VIEW
    pitch = float(np.arctan2(CAMERA_HEIGHT - 1.0, MIDDLE_DEPTH))
    yaw = np.full(spec.frames, np.pi / 2)
    return PanningCamera(position=np.array([0.0, CAMERA_HEIGHT, 0.0]), yaw=yaw, pitch=pitch, focal=float(focal),
                         size=int(spec.size))


def plan_lanes(spec: SceneSpec) -> tuple[Lane, ...]:
    """Every walker's lane. Walkers 1 and 2 go opposite ways at different depths and pass the
    middle of the view close together in time, so they cross in the image and the nearer hides
    part of the farther; the others cross anywhere at any time, in either direction, but pass
    the view's axis at least a fifth of the scene apart from anyone going their way. (Two
    people walking in step one behind the other overlap in the image all the time: a merged
    pair for the whole scene, which tests nothing about crossing and is left out.)"""
    rng = seeds.rng_for((spec.seed, seeds.SCENE, 0, PLACE))
    # Distinct depths at least 0.9 m apart: a lane per walker, shuffled.
    slots = np.linspace(*DEPTH_RANGE, spec.walkers)
    depths = slots + rng.uniform(-0.25, 0.25, spec.walkers)
    rng.shuffle(depths)
    meet = rng.uniform(0.35, 0.65) * (spec.frames - 1)
    lanes = []
    for k in range(spec.walkers):
        if k < 2:
            direction = k  # 0: towards +x, 1: towards -x
            cross_frame = meet + rng.uniform(-0.04, 0.04) * spec.frames
            cross_x = rng.uniform(-0.4, 0.4)
            heading = np.pi * direction + np.radians(rng.uniform(-20.0, 20.0))
            lane = Lane(heading=float(heading), depth=float(depths[k]), cross_x=float(cross_x),
                        cross_frame=float(cross_frame))
        else:
            for _ in range(30):  # the last draw stands if none keeps apart from the others
                direction = int(rng.integers(2))
                cross_frame = rng.uniform(0.15, 0.85) * (spec.frames - 1)
                cross_x = rng.uniform(-1.5, 1.5)
                heading = np.pi * direction + np.radians(rng.uniform(-20.0, 20.0))
                lane = Lane(heading=float(heading), depth=float(depths[k]), cross_x=float(cross_x),
                            cross_frame=float(cross_frame))
                if all(_together(lane, other, spec) <= 0.2 * spec.frames for other in lanes):
                    break
        lanes.append(lane)
    return tuple(lanes)


def _together(a: Lane, b: Lane, spec: SceneSpec, speed: float = 1.3) -> int:
    """Frames in which walkers on lanes `a` and `b` (at `speed` m/s) would both be in view and
    overlap in the image (centres less than a third of a person's height apart)."""
    camera_focal = (spec.size / 2.0) * MIDDLE_DEPTH / HALF_VIEW
    time = (np.arange(spec.frames)[:, None] - np.array([a.cross_frame, b.cross_frame])[None, :]) / spec.fps
    heading = np.array([a.heading, b.heading])
    x = np.array([a.cross_x, b.cross_x]) + speed * time * np.cos(heading)
    z = np.array([a.depth, b.depth]) + speed * time * np.sin(heading)
    image_x = -camera_focal * x / z  # from the image centre
    height = camera_focal * 1.7 / z
    in_view = (np.abs(image_x) < spec.size / 2).all(axis=1)
    close = np.abs(image_x[:, 0] - image_x[:, 1]) < height.mean(axis=1) / 3
    return int((in_view & close).sum())


def render_scene(spec: SceneSpec) -> RenderedScene:
    """Renders the scene `spec` describes (deterministic in its seed)."""
    camera = static_camera(spec)
    lanes = plan_lanes(spec)
    figures, joints = [], []
    for k, lane in enumerate(lanes):
        figure, walker_joints = _walker(spec, k + 1, lane)
        figures.append(figure)
        joints.append(walker_joints)
    joints_world = np.stack(joints, axis=1)  # (T, N, 16, 3)
    place = seeds.rng_for((spec.seed, seeds.SCENE, 0, PLACE), 1)
    lighting = sample_lighting(place)
    style = sample_scene_style(place)
    panorama = make_panorama(style, camera, np.array([0.0, 0.0, MIDDLE_DEPTH]))
    noise = seeds.rng_for((spec.seed, seeds.SCENE, 0, NOISE))

    frames_total, size, count = spec.frames, spec.size, spec.walkers
    rotation = camera.rotation()  # (T, 3, 3) world -> camera
    joints_xy, _ = camera.project(joints_world.reshape(frames_total, -1, 3))
    joints_xy = joints_xy.reshape(frames_total, count, -1, 2)
    light_camera = rotation @ np.asarray(lighting.direction)  # (T, 3)
    tint = np.asarray(lighting.tint, dtype=np.float32)
    # One palette for the scene: walker k's materials sit at k * M .. k * M + M - 1.
    materials = len(figures[0].albedo)
    albedo255 = np.concatenate([255.0 * f.albedo * tint[None, :] for f in figures]).astype(np.float32)
    ground, blob_radii = _shadow_blobs(joints_world, lighting.direction)

    out = np.empty((frames_total, size, size, 3), dtype=np.uint8)
    boxes = np.full((frames_total, count, 4), np.nan)
    visible_boxes = np.full((frames_total, count, 4), np.nan)
    pixels = np.zeros((frames_total, count), dtype=np.int64)
    visible_pixels = np.zeros((frames_total, count), dtype=np.int64)
    chunk = max(1, CHUNK_PIXELS // (size * size * count))
    for start in range(0, frames_total, chunk):
        frames = np.arange(start, min(start + chunk, frames_total))
        lights = Lights(direction=light_camera[frames], ambient=lighting.ambient)
        alone = [_rasterise(figure, camera, rotation[frames], frames, lights) for figure in figures]
        depth = np.stack([b.depth for b in alone])  # (N, Tc, S, S)
        nearest = np.argmin(depth, axis=0)  # (Tc, S, S) the walker seen at each pixel
        body = np.isfinite(depth.min(axis=0))
        material = np.full(body.shape, -1, dtype=np.int64)
        shade = np.zeros(body.shape, dtype=np.float32)
        for k, buffers in enumerate(alone):
            seen = body & (nearest == k)
            material[seen] = buffers.material[seen] + k * materials
            shade[seen] = buffers.shade[seen]
            covers = np.isfinite(buffers.depth)
            pixels[frames, k] = covers.sum(axis=(1, 2))
            visible_pixels[frames, k] = seen.sum(axis=(1, 2))
            boxes[frames, k] = _mask_boxes(covers)
            visible_boxes[frames, k] = _mask_boxes(seen)

        image = panorama.backgrounds(camera.yaw[frames]).astype(np.float32)
        image *= tint
        for k in range(count):
            shade_k = shadow_factor(camera, frames, ground[frames, k], blob_radii[k], lighting.shadow_strength)
            image *= shade_k[..., None]
        image[body] = albedo255[material[body]] * shade[body][:, None]
        if spec.noise > 0:
            image += noise.normal(0.0, spec.noise, image.shape).astype(np.float32)
        np.clip(image, 0, 255, out=image)
        out[frames] = image.astype(np.uint8)
    return RenderedScene(frames=out, boxes=boxes, visible_boxes=visible_boxes, pixels=pixels,
                         visible_pixels=visible_pixels, in_frame=_in_frame(joints_xy, size), joints_xy=joints_xy,
                         lanes=lanes, fps=float(spec.fps))


def _walker(spec: SceneSpec, number: int, lane: Lane) -> tuple[Figure, np.ndarray]:
    """Walker `number`'s figure and joints (T, 16, 3), in the scene's world coordinates."""
    key = (spec.seed, seeds.SCENE, number)
    person = seeds.rng_for(key, PERSON)
    body = sample_body(person)
    style = perturbed(norm_style(), person, 1.0)
    walk = seeds.rng_for(key, WALK)
    covariates = sample_walk_covariates("nm", walk, seeds.rng_for(key, OUTFIT), 1.0)
    motion = walk_motion(body, at_speed(perturbed(style, walk, 0.5), covariates.speed), covariates.carriage,
                         fps=float(spec.fps), frames=spec.frames, start_phase=float(walk.random()), rng=walk)
    figure = dress(motion, body, covariates)
    # The walk runs along +x centred on x = 0; turn it to the lane's heading about the point the
    # pelvis reaches at the crossing frame, and put that point at (cross_x, depth).
    at = np.clip(lane.cross_frame, 0, spec.frames - 1)
    pelvis_x = np.interp(at, np.arange(spec.frames), motion.joints[:, PELVIS, 0])
    c, s = np.cos(lane.heading), np.sin(lane.heading)
    turn = np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])  # takes +x to the heading
    shift = np.array([lane.cross_x, 0.0, lane.depth])
    origin = np.array([pelvis_x, 0.0, 0.0])

    def place(points: np.ndarray) -> np.ndarray:
        return (points - origin) @ turn.T + shift

    moved = dataclasses.replace(
        figure,
        capsule_a=place(figure.capsule_a),
        capsule_b=place(figure.capsule_b),
        ellipsoid_centre=place(figure.ellipsoid_centre),
        ellipsoid_rotation=np.einsum("ij,tejk->teik", turn, figure.ellipsoid_rotation),
    )
    return moved, place(motion.joints)


def _rasterise(figure: Figure, camera: PanningCamera, rotation: np.ndarray, frames: np.ndarray,
               lights: Lights) -> RasterBuffers:
    """One walker alone in a chunk of frames (rotation (Tc, 3, 3) world -> camera)."""
    buffers = RasterBuffers.empty(len(frames), camera.size)
    cap_a = np.einsum("tij,tnj->tni", rotation, figure.capsule_a[frames] - camera.position)
    cap_b = np.einsum("tij,tnj->tni", rotation, figure.capsule_b[frames] - camera.position)
    for i in range(cap_a.shape[1]):
        m = int(figure.capsule_material[i])
        draw_capsule(buffers, cap_a[:, i], cap_b[:, i], figure.capsule_radius[i, 0], figure.capsule_radius[i, 1], m,
                     camera.focal, lights, figure.stripe_period[m], figure.stripe_contrast[m])
    centre = np.einsum("tij,tnj->tni", rotation, figure.ellipsoid_centre[frames] - camera.position)
    turn = np.einsum("tij,tnjk->tnik", rotation, figure.ellipsoid_rotation[frames])
    for i in range(centre.shape[1]):
        m = int(figure.ellipsoid_material[i])
        draw_ellipsoid(buffers, centre[:, i], turn[:, i], figure.ellipsoid_axes[i], m, camera.focal, lights,
                       figure.stripe_period[m], figure.stripe_contrast[m])
    return buffers


def _shadow_blobs(joints: np.ndarray, light: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Soft shadow blobs on the ground of every walker, as synth.render casts them for one:
    (centres (T, N, 7, 3), radii (N, 7) metres)."""
    light = np.asarray(light)
    away = -np.array([light[0], 0.0, light[2]])
    away /= max(float(np.linalg.norm(away)), 1e-6)
    reach = 1.0 / max(np.tan(np.arcsin(light[1])), 0.3)
    casters = joints[:, :, [ANKLE[0], ANKLE[1], KNEE[0], KNEE[1], PELVIS, THORAX, HEAD_TOP]]  # (T, N, 7, 3)
    ground = casters + away * casters[..., 1:2] * reach
    ground[..., 1] = 0.0
    scale = joints[0, :, HEAD_TOP, 1] / 1.7  # (N,)
    radii = np.array([0.12, 0.12, 0.12, 0.12, 0.18, 0.18, 0.13])[None, :] * scale[:, None]
    return ground, radii


def _mask_boxes(mask: np.ndarray) -> np.ndarray:
    """(Tc, 4) the box (x0, y0, x1, y1), x1/y1 exclusive, of each frame's True pixels in `mask`
    (Tc, H, W); NaN where there are none."""
    out = np.full((len(mask), 4), np.nan)
    columns = mask.any(axis=1)  # (Tc, W)
    rows = mask.any(axis=2)  # (Tc, H)
    some = columns.any(axis=1)
    width, height = mask.shape[2], mask.shape[1]
    out[some, 0] = np.argmax(columns[some], axis=1)
    out[some, 2] = width - np.argmax(columns[some, ::-1], axis=1)
    out[some, 1] = np.argmax(rows[some], axis=1)
    out[some, 3] = height - np.argmax(rows[some, ::-1], axis=1)
    return out


def _in_frame(joints_xy: np.ndarray, size: int) -> np.ndarray:
    """(T, N) share of each walker's whole extent inside the frame: the box of its joints
    (T, N, 16, 2), widened by a fifth of its height for the limbs' girth and the head, clipped."""
    low, high = joints_xy.min(axis=2), joints_xy.max(axis=2)  # (T, N, 2)
    pad = 0.2 * (high[..., 1] - low[..., 1])[..., None]
    low, high = low - pad * np.array([1.0, 0.4]), high + pad * np.array([1.0, 0.2])
    area = np.prod(high - low, axis=-1)
    inside = np.prod(np.clip(np.minimum(high, size) - np.maximum(low, 0), 0, None), axis=-1)
    return np.where(area > 0, inside / np.maximum(area, 1e-9), 0.0)
