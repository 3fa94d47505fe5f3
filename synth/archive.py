"""Synthetic archives in a real data set's layout: spec -> jobs -> files.

`plan_archive` turns an ArchiveSpec into one WalkJob per output item (a video file per walk
and view for casia-b, a JPEG folder per walk for tum-gaid). A job carries everything its
item is rendered from, integer seeds included, so `render_job` can run anywhere (a Dask
worker) and always produces the same bytes of ground truth and the same frames.

Seeds: the person's generator is keyed by (seed, PERSON, subject number); a walk's by
(seed, WALK, subject number, session, condition code, index); a view's by (seed, VIEW, ...,
view). Outfits come from their own stream of the walk (or, in the leaky control, of the
person), so switching the control on changes nothing else.

Styles (synth.style): "standard" is the look training sees; "shifted" is a held-out look
(other clothes patterns, palette, shading, backgrounds, camera, and bodies at the edge of the
population) for measuring pose quality on a renderer's look the network never saw. The
shifted look's draws come from streams of their own (LOOK_STREAM after the walk's, the
view's or the outfit's key), so the standard style's draws and bytes are those of before, and
a standard job's digest leaves the style out.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

from synth import seeds
from synth.body import BodyShape, sample_body
from synth.camera import CASIA_B_VIEWS, PanningCamera, follow_camera
from synth.covariates import ViewCovariates, WalkCovariates, sample_view_covariates, sample_walk_covariates
from synth.figure import TOP, dress
from synth.gait import at_speed, norm_style, perturbed
from synth.kinematics import WalkMotion, walk_motion
from synth.render import place_pole, render_walk
from synth.scenery import make_panorama, sample_scene_style
from synth.style import BODY_EDGE, STYLES, Look, check_style, sample_look, sample_shifted_outfit
from synth.sidecar import groundtruth_document, read_job_digest, sidecar_path, write_json_atomically
from synth.skeleton import PELVIS
from synth.video import write_jpeg_folder, write_video

GENERATOR_VERSION = "gaitflow.synth/1"
LAYOUTS: tuple[str, ...] = ("casia-b", "tum-gaid")
DEFAULT_WALKS: dict[str, tuple[tuple[str, int], ...]] = {
    "casia-b": (("nm", 6), ("bg", 2), ("cl", 2)),
    "tum-gaid": (("n", 6), ("b", 2), ("s", 2)),
}
# The time-elapsed recordings of TUM GAID: tn01, tn02, tb01, tb02, ts01, ts02.
SESSION2_WALKS: tuple[tuple[str, int], ...] = (("n", 2), ("b", 2), ("s", 2))
TUM_GAID_VIEW = 90
CONDITION_CODES = {"nm": 0, "bg": 1, "cl": 2, "n": 0, "b": 1, "s": 2}
VIDEO_FORMATS = ("avi", "mp4")
SCENE_STREAM = 7
NOISE_STREAM = 8
LOOK_STREAM = 9  # the shifted style's draws, after the walk's, view's or outfit's key
# How far a person's style moves between the two TUM GAID sessions, in between-person spreads.
SESSION_DRIFT = 0.6
SESSION_GIRTH_LOG_SD = 0.05


@dataclasses.dataclass(frozen=True)
class ArchiveSpec:
    """What archive to make.

    Attributes:
      layout: "casia-b" (videos `video/SSS-cc-NN-VVV.avi`) or "tum-gaid" (JPEG folders
        `pNNN/<seq>/` at the 90 degree view).
      subjects: number of people, numbered from 1.
      views: degrees in [0, 180]; None = CASIA-B's 11 views (casia-b) or (90,) (tum-gaid).
      walks: (condition, count) pairs; None = the layout's usual set (casia-b nm 6, bg 2,
        cl 2; tum-gaid n 6, b 2, s 2).
      frames: frames per walk.
      size: frame width = height in pixels (even).
      seed: the archive's integer seed.
      difficulty: scales per-walk drift, speed spread and image degradation (1 = nominal).
      spread: scales between-person variability (0 = every person alike).
      session2_subjects: tum-gaid only: how many subjects (the first ones) also get the later
        session (tn01, tn02, tb01, tb02, ts01, ts02); None = a tenth of them, at least one.
      video_format: casia-b container, "avi" or "mp4".
      leaky_outfit: the leaky control: outfits follow the person instead of the walk.
      style: "standard" (the look training uses) or "shifted" (a look training never
        uses: other cloth patterns, palette, shading, backgrounds, camera noise, and body
        proportions at 2 to 2.5 SDs; see synth.style). Same seed, same people and walks.
    """

    layout: str = "casia-b"
    subjects: int = 10
    views: tuple[int, ...] | None = None
    walks: tuple[tuple[str, int], ...] | None = None
    frames: int = 75
    size: int = 128
    seed: int = 0
    difficulty: float = 1.0
    spread: float = 1.0
    session2_subjects: int | None = None
    video_format: str = "avi"
    leaky_outfit: bool = False
    style: Literal["standard", "shifted"] = "standard"

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        _require_int("subjects", self.subjects, 1, 999)
        _require_int("frames", self.frames, 8, 5000)
        _require_int("size", self.size, 32, 1024)
        if self.size % 2:
            raise ValueError(f"size must be even (video chroma subsampling), got {self.size}")
        _require_int("seed", self.seed, 0, 2**63 - 1)
        for name in ("subjects", "frames", "size", "seed"):
            object.__setattr__(self, name, int(getattr(self, name)))  # numpy ints -> int
        for name in ("difficulty", "spread"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 3.0:
                raise ValueError(f"{name} must be a number in [0, 3], got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.video_format not in VIDEO_FORMATS:
            raise ValueError(f"video_format must be one of {VIDEO_FORMATS}, got {self.video_format!r}")
        if not isinstance(self.leaky_outfit, bool):
            raise ValueError(f"leaky_outfit must be a bool, got {self.leaky_outfit!r}")
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}, got {self.style!r}")

        views = self.views
        if views is None:
            views = CASIA_B_VIEWS if self.layout == "casia-b" else (TUM_GAID_VIEW,)
        views = tuple(views)
        if not views:
            raise ValueError("views must name at least one view")
        for view in views:
            _require_int("a view", view, 0, 180)
        if len(set(views)) != len(views):
            raise ValueError(f"views repeat: {views}")
        if self.layout == "tum-gaid" and views != (TUM_GAID_VIEW,):
            raise ValueError(f"tum-gaid is recorded at the {TUM_GAID_VIEW} degree view only, got views {views}")
        object.__setattr__(self, "views", tuple(sorted(int(v) for v in views)))

        walks = DEFAULT_WALKS[self.layout] if self.walks is None else self.walks
        try:
            walks = tuple((str(c), n) for c, n in (tuple(w) for w in walks))
        except (TypeError, ValueError):
            raise ValueError(f"walks must be (condition, count) pairs, got {self.walks!r}") from None
        allowed = [c for c, _ in DEFAULT_WALKS[self.layout]]
        if not walks:
            raise ValueError("walks must name at least one (condition, count) pair")
        for condition, count in walks:
            if condition not in allowed:
                raise ValueError(f"{self.layout} conditions are {allowed}, got {condition!r}")
            _require_int(f"the walk count of {condition!r}", count, 1, 99)
        if len({c for c, _ in walks}) != len(walks):
            raise ValueError(f"walks name a condition twice: {walks}")
        object.__setattr__(self, "walks", tuple((c, int(n)) for c, n in walks))

        session2 = self.session2_subjects
        if self.layout == "casia-b":
            if session2 not in (None, 0):
                raise ValueError("session2_subjects applies to tum-gaid only")
            session2 = 0
        elif session2 is None:
            session2 = max(1, int(round(0.1 * self.subjects)))
        else:
            _require_int("session2_subjects", session2, 0, self.subjects)
        object.__setattr__(self, "session2_subjects", int(session2))


@dataclasses.dataclass(frozen=True)
class WalkJob:
    """One output item: a walk seen from one view, and everything it is rendered from.

    Attributes:
      path: the item's path relative to the archive root (POSIX separators): a video file
        (casia-b) or an image folder (tum-gaid).
      layout, subject, condition, index, view, session: the sequence's metadata
        (DEVELOPMENT.md: subject "001" / "p001", condition "nm" / "n", ...).
      frames, size, difficulty, spread, leaky_outfit, style: the knobs it is rendered with.
      person_seed, session_seed, walk_seed, view_seed: integer keys of its generators.
    """

    path: str
    layout: str
    subject: str
    condition: str
    index: int
    view: int
    session: int
    frames: int
    size: int
    difficulty: float
    spread: float
    leaky_outfit: bool
    person_seed: tuple[int, ...]
    session_seed: tuple[int, ...]
    walk_seed: tuple[int, ...]
    view_seed: tuple[int, ...]
    style: str = "standard"

    def __post_init__(self) -> None:
        check_style(self.style)

    def digest(self) -> str:
        """Hex digest of the job and the generator version; recorded in the sidecar. The
        standard style is left out, so standard jobs keep the digests they had before styles."""
        fields = dataclasses.asdict(self)
        if self.style == "standard":
            del fields["style"]
        payload = json.dumps([GENERATOR_VERSION, fields], sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:20]

    def labels(self) -> dict[str, Any]:
        """The sequence metadata (subject, condition, index, view, session)."""
        return {"subject": self.subject, "condition": self.condition, "index": self.index,
                "view": self.view, "session": self.session}

    @property
    def is_video(self) -> bool:
        return self.layout == "casia-b"


def plan_archive(spec: ArchiveSpec) -> tuple[WalkJob, ...]:
    """Every item of the archive `spec` describes, sorted by path."""
    jobs = []
    for number in range(1, spec.subjects + 1):
        sessions = [(1, spec.walks)]
        if spec.layout == "tum-gaid" and number <= spec.session2_subjects:
            sessions.append((2, SESSION2_WALKS))
        for session, walks in sessions:
            for condition, count in walks:
                for index in range(1, count + 1):
                    for view in spec.views:
                        jobs.append(_job(spec, number, session, condition, index, view))
    return tuple(sorted(jobs, key=lambda job: job.path))


def render_job(job: WalkJob, root: Path) -> str:
    """Renders one item under `root` unless it is already there for this very job.

    Writes atomically: a stale item is removed first, then the sidecar goes in (temporary
    name, then rename), then the video file or image folder (likewise) as the commit point.
    An item counts as complete when it exists and its sidecar records this job's digest.

    Returns:
      "skipped" when the item was complete, else "rendered".
    """
    root = Path(root)
    item = root / job.path
    digest = job.digest()
    sidecar = sidecar_path(item)
    if item.exists() and read_job_digest(sidecar) == digest:
        return "skipped"
    item_render = render_item(job)
    frames, document = item_render.frames, item_render.document
    item.parent.mkdir(parents=True, exist_ok=True)
    if item.is_dir():
        shutil.rmtree(item)
    elif item.exists():
        item.unlink()
    if job.is_video:
        write_json_atomically(sidecar, document)
        handle, temporary = tempfile.mkstemp(dir=item.parent, prefix=f".{item.name}.", suffix=item.suffix)
        os.close(handle)
        try:
            write_video(frames, Path(temporary), document["fps"], item_render.quality)
            os.replace(temporary, item)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    else:
        temporary = Path(tempfile.mkdtemp(dir=item.parent, prefix=f".{item.name}.", suffix=".tmp"))
        try:
            write_jpeg_folder(frames, temporary, item_render.quality)
            write_json_atomically(sidecar_path(temporary), document)
            os.replace(temporary, item)
        except BaseException:
            shutil.rmtree(temporary, ignore_errors=True)
            raise
    return "rendered"


def write_archive(
    spec: ArchiveSpec, root: Path, progress: Callable[[WalkJob, str], None] | None = None
) -> dict[str, int]:
    """Renders every item of `spec` under `root`, one after another.

    Returns counts by status, e.g. {"rendered": 20, "skipped": 0}.
    """
    counts: Counter[str] = Counter({"rendered": 0, "skipped": 0})
    for job in plan_archive(spec):
        status = render_job(job, root)
        counts[status] += 1
        if progress is not None:
            progress(job, status)
    return dict(counts)


@dataclasses.dataclass(frozen=True, eq=False)
class SimulatedWalk:
    """A job's walk before rendering: the person, the walk's and view's conditions, the
    motion, the camera, and the shifted style's look (None in the standard style)."""

    body: BodyShape
    covariates: WalkCovariates
    view: ViewCovariates
    motion: WalkMotion
    camera: PanningCamera
    look: Look | None = None


@dataclasses.dataclass(frozen=True, eq=False)
class RenderedItem:
    """A job rendered in memory: frames (T, size, size, 3) uint8 RGB, the sidecar document
    and the compression quality in [0, 1] to write them with; `silhouette` (T, size, size)
    bool the figure's pixels when asked for, else None."""

    frames: np.ndarray
    document: dict[str, Any]
    quality: float
    silhouette: np.ndarray | None = None


def simulate(job: WalkJob) -> SimulatedWalk:
    """The job's person, walk and camera (no pixels)."""
    person = seeds.rng_for(job.person_seed)
    shifted = job.style == "shifted"
    body = sample_body(person, job.spread, edge=BODY_EDGE if shifted else None)
    style = perturbed(norm_style(), person, job.spread)
    if job.session > 1:
        elapsed = seeds.rng_for(job.session_seed)
        style = perturbed(style, elapsed, SESSION_DRIFT * max(job.difficulty, 0.5))
        body = body.scaled_girth(float(np.exp(SESSION_GIRTH_LOG_SD * elapsed.standard_normal())))
    walk = seeds.rng_for(job.walk_seed)
    outfit_key = job.person_seed if job.leaky_outfit else job.walk_seed
    covariates = sample_walk_covariates(job.condition, walk, seeds.rng_for(outfit_key, seeds.OUTFIT), job.difficulty)
    look = None
    if shifted:
        outfit, patterns = sample_shifted_outfit(seeds.rng_for(outfit_key, seeds.OUTFIT, LOOK_STREAM))
        covariates = dataclasses.replace(covariates, outfit=outfit)
        look = sample_look(patterns, seeds.rng_for(job.walk_seed, LOOK_STREAM), seeds.rng_for(job.view_seed, LOOK_STREAM),
                           job.difficulty)
    drift = float(np.clip(0.5 * job.difficulty, 0.0, 1.5))
    walk_style = at_speed(perturbed(style, walk, drift), covariates.speed)
    motion = walk_motion(
        body, walk_style, covariates.carriage,
        fps=covariates.fps, frames=job.frames, start_phase=float(walk.random()), rng=walk,
        stride_time_cv=0.02 * job.difficulty, jitter_deg=0.8 * job.difficulty,
    )
    view = sample_view_covariates(seeds.rng_for(job.view_seed), job.difficulty)
    camera = follow_camera(job.view, motion.joints[:, PELVIS], covariates.fps, view, job.size)
    return SimulatedWalk(body=body, covariates=covariates, view=view, motion=motion, camera=camera, look=look)


def job_groundtruth(job: WalkJob) -> tuple[np.ndarray, float]:
    """The job's 2-D joints (T, 16, 2) and fps without rendering pixels (same values as the
    sidecar's joints_xy before rounding)."""
    walk = simulate(job)
    joints_xy, _ = walk.camera.project(walk.motion.joints)
    return joints_xy, walk.covariates.fps


def archive_groundtruth(spec: ArchiveSpec) -> tuple[list[np.ndarray], list[float], list[dict]]:
    """Every walk of `spec` without rendering: (joints (T, 16, 2) per walk, fps per walk, labels
    per walk), in `plan_archive` order."""
    tracks, rates, records = [], [], []
    for job in plan_archive(spec):
        joints, fps = job_groundtruth(job)
        tracks.append(joints)
        rates.append(fps)
        records.append(job.labels())
    return tracks, rates, records


def render_item(job: WalkJob, keep_silhouette: bool = False) -> RenderedItem:
    """Renders a job in memory (with the figure's pixels when `keep_silhouette`)."""
    walk = simulate(job)
    view = walk.view
    if walk.look is None:
        scene = sample_scene_style(seeds.rng_for(job.walk_seed, SCENE_STREAM))
    else:
        scene = walk.look.walk.scene
    path = walk.motion.joints[:, PELVIS]
    centre = 0.5 * (path[0] + path[-1])
    centre[1] = 0.0
    panorama = make_panorama(scene, walk.camera, centre)
    figure = dress(walk.motion, walk.body, walk.covariates, fit_head=walk.look is not None)
    pole = place_pole(walk.camera, path, view)
    noise = seeds.rng_for(job.view_seed, NOISE_STREAM)
    rendered = render_walk(walk.motion, figure, walk.camera, panorama, walk.covariates.lighting, view, pole, noise,
                           look=walk.look, keep_silhouette=keep_silhouette)
    covariates = walk.covariates.to_json()
    covariates.update(view.to_json())
    if walk.look is not None:
        covariates["outfit"]["pattern"] = walk.look.walk.patterns[TOP].kind
        covariates.update({"style": job.style, "look": walk.look.to_json()})
    covariates.update({
        "view": job.view,
        "session": job.session,
        "difficulty": job.difficulty,
        "camera": {
            "view": job.view,
            "distance_m": round(float(np.linalg.norm((walk.camera.position - centre)[[0, 2]])), 3),
            "height_m": round(float(walk.camera.position[1]), 3),
            "focal_px": round(walk.camera.focal, 2),
            "pans": True,
        },
        "background": scene.to_json(),
    })
    document = groundtruth_document(
        rendered.joints_xy, rendered.visible, walk.covariates.fps, (job.size, job.size), covariates, job.digest()
    )
    return RenderedItem(frames=rendered.frames, document=document, quality=view.quality, silhouette=rendered.silhouette)


def _job(spec: ArchiveSpec, number: int, session: int, condition: str, index: int, view: int) -> WalkJob:
    code = CONDITION_CODES[condition]
    if spec.layout == "casia-b":
        subject = f"{number:03d}"
        path = f"video/{subject}-{condition}-{index:02d}-{view:03d}.{spec.video_format}"
    else:
        subject = f"p{number:03d}"
        prefix = "t" if session == 2 else ""
        path = f"{subject}/{prefix}{condition}{index:02d}"
    walk_seed = (spec.seed, seeds.WALK, number, session, code, index)
    return WalkJob(
        path=path, layout=spec.layout, subject=subject, condition=condition, index=index, view=view,
        session=session, frames=spec.frames, size=spec.size, difficulty=spec.difficulty, spread=spec.spread,
        leaky_outfit=spec.leaky_outfit, style=spec.style,
        person_seed=(spec.seed, seeds.PERSON, number),
        session_seed=(spec.seed, seeds.SESSION, number, session),
        walk_seed=walk_seed,
        view_seed=(spec.seed, seeds.VIEW, number, session, code, index, view),
    )


def _require_int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
