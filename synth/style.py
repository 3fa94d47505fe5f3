"""Rendering styles: "standard" (the look training sees) and "shifted" (a held-out look).

Pose quality must also be measured on walkers drawn in a look that training never used, so
the shifted style changes every appearance channel at once while the people (bodies and
motion, keyed by the same seeds) stay who they are:

  clothes     two-colour checks, diagonal bands, dots, camouflage blotches and pinstripes
              (the standard style only has horizontal stripes), on top, bottom, coat and bag;
  palette     neon (saturation >= 0.9, value >= 0.93), pastel (value >= 0.94) or ink-black
              (value <= 0.08) clothes, dyed or platinum hair (standard clothes keep value in
              0.12..0.92 and saturation <= 0.85), and a whole-frame colour grade: vivid,
              faded/sepia, split-toned or duotone;
  shading     cel bands, flat or a coloured sky/ground hemisphere light instead of the
              standard Lambert-plus-ambient, with a coloured rim light and often ink outlines;
  background  bricks under a sunset, a park with a hedge, a studio backdrop of broad bands, or
              a street at night (scenery.SHIFTED_FAMILIES; standard has tiles, grass, asphalt);
  camera      vignetting, chromatic aberration, signal-dependent sensor noise with blotchy
              chroma noise, in-camera JPEG blockiness;
  bodies      every proportion (segment ratios, leg length, girth) drawn at 2 to 2.5 SDs of
              the population (body.sample_body's `edge`), keeping its sign; the drawn head
              follows the head length (figure.dress's `fit_head`), so head_top stays on it.

Everything appearance-related is drawn per walk (clothes from the walk's outfit stream, which
the leaky control ties to the person; look and scene from the walk's look stream) or per
view (camera), never per person; only the body, which is identity, stays per person.
"""

from __future__ import annotations

import colorsys
import dataclasses
from typing import Any

import cv2
import numpy as np

from synth.covariates import Outfit
from synth.figure import BAG, BOTTOM, COAT, HAIR, MATERIAL_COUNT, SHOES, SKIN, TOP
from synth.raster import RasterBuffers
from synth.scenery import ShiftedSceneStyle, sample_shifted_scene

RGB = tuple[float, float, float]
STYLES: tuple[str, ...] = ("standard", "shifted")
BODY_EDGE = (2.0, 2.5)  # SDs at which the shifted style draws body proportions
PATTERNS = ("checks", "diagonal", "dots", "camo", "pinstripes")
SHADINGS = ("cel", "flat", "hemisphere")
GRADES = ("vivid", "faded", "split", "duotone")
MATERIAL_NAMES = {SKIN: "skin", HAIR: "hair", TOP: "top", BOTTOM: "bottom", SHOES: "shoes", COAT: "coat", BAG: "bag"}
# Chance that a piece of clothing carries a pattern in the shifted style.
PATTERN_CHANCE = {TOP: 1.0, BOTTOM: 0.85, COAT: 0.9, BAG: 0.7}
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclasses.dataclass(frozen=True)
class Pattern:
    """A cloth pattern: `kind` "plain" or one of PATTERNS, `period` metres, the second
    `colour` (RGB in [0, 1]) it mixes in, and `seed` for the camouflage blotches."""

    kind: str = "plain"
    period: float = 0.0
    colour: RGB = (0.0, 0.0, 0.0)
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class WalkLook:
    """The shifted look shared by every view of one walk.

    Attributes:
      patterns: one Pattern per figure material (figure.MATERIAL_COUNT).
      shading: "cel" (banded Lambert), "flat" (no directional light) or "hemisphere"
        (sky/ground coloured light with a wrapped key light).
      bands: the cel shading's number of bands.
      rim_colour, rim_strength, rim_power: a coloured light grazing the silhouette.
      sky_light, ground_light: the hemisphere light's colours.
      outline: darkness in [0, 1] of ink lines along silhouettes and depth edges (0 = none).
      grade: whole-frame colour grade, one of GRADES; `grade_strength` its amount;
        `grade_colours` its two colours (sepia tint / shadow and highlight / duotone ends).
      scene: the surroundings.
    """

    patterns: tuple[Pattern, ...]
    shading: str
    bands: int
    rim_colour: RGB
    rim_strength: float
    rim_power: float
    sky_light: RGB
    ground_light: RGB
    outline: float
    grade: str
    grade_strength: float
    grade_colours: tuple[RGB, RGB]
    scene: ShiftedSceneStyle


@dataclasses.dataclass(frozen=True)
class CameraLook:
    """The shifted camera of one view: `vignette` (darkening at the corners), `aberration`
    (pixels the red and blue channels slide apart), `shot_noise` (SD in grey levels per
    sqrt(grey level)), `chroma_noise` (SD of 2x2-pixel colour blotches, grey levels) and
    `jpeg_quality` (in-camera JPEG, 1..100; 0 = none)."""

    vignette: float
    aberration: int
    shot_noise: float
    chroma_noise: float
    jpeg_quality: int


@dataclasses.dataclass(frozen=True)
class Look:
    """The shifted style of one walk seen by one camera."""

    walk: WalkLook
    camera: CameraLook

    def to_json(self) -> dict[str, Any]:
        w, c = self.walk, self.camera
        return {
            "shading": w.shading, "outline": w.outline > 0, "grade": w.grade,
            "patterns": {MATERIAL_NAMES[m]: p.kind for m, p in enumerate(w.patterns) if p.kind != "plain"},
            "vignette": round(c.vignette, 3), "aberration_px": c.aberration,
            "shot_noise": round(c.shot_noise, 3), "chroma_noise": round(c.chroma_noise, 2),
            "jpeg_quality": c.jpeg_quality,
        }


def check_style(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
    return style


def sample_shifted_outfit(rng: np.random.Generator) -> tuple[Outfit, tuple[Pattern, ...]]:
    """Clothes, skin and hair of one walk in the shifted style, and a pattern per material.

    `rng` is the walk's (or, in the leaky control, the person's) shifted outfit stream.
    """
    skin_tones = np.array([[0.98, 0.84, 0.72], [0.90, 0.72, 0.56], [0.78, 0.57, 0.40],
                           [0.60, 0.42, 0.28], [0.42, 0.28, 0.18]])
    skin = tuple(float(x) for x in np.clip(skin_tones[int(rng.integers(len(skin_tones)))] * rng.uniform(0.9, 1.1), 0, 1))
    if rng.random() < 0.65:
        hair = _hsv(rng.random(), rng.uniform(0.75, 1.0), rng.uniform(0.6, 1.0))  # dyed
    else:
        hair = _hsv(rng.random(), rng.uniform(0.0, 0.1), rng.uniform(0.93, 1.0))  # platinum
    outfit = Outfit(
        top=_shifted_colour(rng), bottom=_shifted_colour(rng), shoes=_shifted_colour(rng), skin=skin, hair=hair,
        coat=_shifted_colour(rng), bag=_shifted_colour(rng), stripe_period=0.0, stripe_contrast=0.0,
        long_sleeves=bool(rng.random() < 0.5), shorts=bool(rng.random() < 0.2), long_hair=bool(rng.random() < 0.35),
    )
    patterns = [Pattern()] * MATERIAL_COUNT
    for material, chance in PATTERN_CHANCE.items():
        kind = PATTERNS[int(rng.integers(len(PATTERNS)))]
        period = float(rng.uniform(0.1, 0.22))
        colour = _contrasting_colour(rng, getattr(outfit, MATERIAL_NAMES[material]))
        seed = int(rng.integers(2**31))
        if rng.random() < chance:
            patterns[material] = Pattern(kind=kind, period=period, colour=colour, seed=seed)
    return outfit, tuple(patterns)


def sample_look(
    patterns: tuple[Pattern, ...], walk_rng: np.random.Generator, view_rng: np.random.Generator, difficulty: float
) -> Look:
    """The shifted look of one walk (`walk_rng`: the walk's look stream) seen by one camera
    (`view_rng`: the view's look stream). Sensor noise and JPEG scale with `difficulty`;
    vignetting and aberration are part of the look and do not."""
    shading = SHADINGS[int(walk_rng.integers(len(SHADINGS)))]
    grade = GRADES[int(walk_rng.integers(len(GRADES)))]
    hue = walk_rng.random()
    if grade == "faded":
        grade_colours = (_hsv(walk_rng.uniform(0.06, 0.12), walk_rng.uniform(0.2, 0.4), 1.0), (0.0, 0.0, 0.0))
    elif grade == "split":
        grade_colours = (_hsv(hue, 0.8, 1.0), _hsv(hue + 0.5, 0.8, 1.0))
    else:
        grade_colours = (_hsv(hue, walk_rng.uniform(0.6, 1.0), walk_rng.uniform(0.1, 0.3)),
                         _hsv(hue + walk_rng.uniform(0.3, 0.6), walk_rng.uniform(0.2, 0.6), 1.0))
    walk = WalkLook(
        patterns=tuple(patterns),
        shading=shading,
        bands=int(walk_rng.integers(2, 4)),
        rim_colour=_hsv(walk_rng.random(), walk_rng.uniform(0.3, 0.9), 1.0),
        rim_strength=float(walk_rng.uniform(0.35, 0.8)),
        rim_power=float(walk_rng.uniform(1.5, 3.0)),
        sky_light=_hsv(walk_rng.uniform(0.5, 0.7), walk_rng.uniform(0.2, 0.5), 1.0),
        ground_light=_hsv(walk_rng.uniform(0.0, 0.15), walk_rng.uniform(0.3, 0.7), walk_rng.uniform(0.5, 0.8)),
        outline=float(walk_rng.uniform(0.6, 0.9)) if walk_rng.random() < 0.6 else 0.0,
        grade=grade,
        grade_strength=float(walk_rng.uniform(0.5, 0.75)),
        grade_colours=grade_colours,
        scene=sample_shifted_scene(walk_rng),
    )
    d = float(difficulty)
    camera = CameraLook(
        vignette=float(view_rng.uniform(0.35, 0.65)),
        aberration=int(view_rng.integers(1, 3)),
        shot_noise=float(view_rng.uniform(0.3, 0.7) * d),
        chroma_noise=float(view_rng.uniform(2.0, 5.0) * d),
        jpeg_quality=int(np.clip(round(100 - view_rng.uniform(40, 65) * d), 5, 100)) if d > 0 else 0,
    )
    return Look(walk=walk, camera=camera)


def shade_surface(
    look: WalkLook, buffers: RasterBuffers, pixels: np.ndarray, albedo255: np.ndarray, tint: np.ndarray,
    light: np.ndarray, ambient: float,
) -> np.ndarray:
    """(N, 3) float32 colours, 0..255, of the figure's pixels in the shifted style.

    Args:
      buffers: a chunk's buffers kept with surfaces (RasterBuffers.empty(..., surface=True)).
      pixels: (N,) flat indices into the chunk's (Tc, S, S) pixels that a surface covers.
      albedo255: (M, 3) per material, 0..255, the light's tint included.
      tint: (3,) the light's tint.
      light: (Tc, 3) unit vectors towards the light, camera coordinates.
      ambient: the ambient share of the standard light (the cel shading's floor).
    """
    material = buffers.material.reshape(-1)[pixels].astype(np.int64)
    nx, ny, nz = (plane.reshape(-1)[pixels] for plane in buffers.normal)
    u, v = (plane.reshape(-1)[pixels] for plane in buffers.uv)
    colour = albedo255[material].astype(np.float32)
    for m, pattern in enumerate(look.patterns):
        if pattern.kind == "plain":
            continue
        sel = np.flatnonzero(material == m)
        if sel.size:
            weight = pattern_weight(pattern, u[sel], v[sel])[:, None]
            second = 255.0 * np.asarray(pattern.colour, dtype=np.float32) * tint
            colour[sel] += weight * (second - colour[sel])
    frame_light = light.astype(np.float32)[pixels // buffers.material[0].size]
    n_dot_l = nx * frame_light[:, 0] + ny * frame_light[:, 1] + nz * frame_light[:, 2]
    if look.shading == "cel":
        steps = np.minimum(np.floor(np.maximum(n_dot_l, 0.0) * look.bands + 0.4), look.bands) / look.bands
        colour *= (ambient + (1.0 - ambient) * steps)[:, None]
    elif look.shading == "flat":
        colour *= 0.95
    else:  # hemisphere: camera y points down, so -normal_y is "up" (the pitch is small)
        up = 0.5 - 0.5 * ny
        sky, ground = np.asarray(look.sky_light, np.float32), np.asarray(look.ground_light, np.float32)
        key = (0.5 + 0.5 * n_dot_l) ** 2
        colour *= (ground + up[:, None] * (sky - ground)) * (0.6 + 0.6 * key)[:, None]
    rim = look.rim_strength * (1.0 - np.abs(nz)) ** look.rim_power
    colour += (255.0 * rim)[:, None] * np.asarray(look.rim_colour, dtype=np.float32)
    return colour


def pattern_weight(pattern: Pattern, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(N,) float32 in [0, 1]: how much of the pattern's second colour shows at surface
    coordinates (u, v) ((N,) each, metres along and around the part)."""
    u, v = u / pattern.period, v / pattern.period
    if pattern.kind == "checks":
        return ((np.floor(u) + np.floor(v)) % 2).astype(np.float32)
    if pattern.kind == "diagonal":
        return (np.floor(0.7 * (u + v)) % 2).astype(np.float32)
    if pattern.kind == "dots":
        fu, fv = u - np.floor(u) - 0.5, v - np.floor(v) - 0.5
        return (fu * fu + fv * fv < 0.09).astype(np.float32)
    if pattern.kind == "pinstripes":
        return (v - np.floor(v) < 0.3).astype(np.float32)
    if pattern.kind == "camo":
        blot = _hash_noise(0.5 * u, 0.5 * v, pattern.seed)
        return np.where(blot > 0.62, 1.0, np.where(blot < 0.38, 0.5, 0.0)).astype(np.float32)
    raise ValueError(f"unknown pattern {pattern.kind!r}")


class Developer:
    """The shifted camera's processing for one walk seen by one camera, frame chunk by
    frame chunk: ink outlines, colour grade, vignetting, aberration, sensor noise, blur and
    in-camera JPEG. Noise comes from a few tiles drawn once (each frame a random crop), as
    the standard style does."""

    def __init__(self, look: Look, size: int, rng: np.random.Generator, tiles: int = 4):
        self.look = look
        self.size = size
        self.rng = rng
        grid = (np.arange(size, dtype=np.float32) - (size - 1) / 2.0) / (size / 2.0)
        radius2 = (grid[None, :] ** 2 + grid[:, None] ** 2) / 2.0
        vignette = (1.0 - look.camera.vignette * radius2).astype(np.float32)
        self.vignette = np.ascontiguousarray(np.repeat(vignette[:, :, None], 3, axis=2))  # no broadcasting: faster
        self.affine = _grade_affine(look.walk)
        camera = look.camera
        self.shift = max(1, int(round(camera.aberration * size / 256))) if camera.aberration > 0 else 0
        self.shot = None
        if camera.shot_noise > 0.05:
            self.shot = (camera.shot_noise * rng.standard_normal((tiles, size + 16, size + 16, 3))).astype(np.float32)
        self.chroma = None
        if camera.chroma_noise > 0.05:
            half = size // 2 + 8
            coarse = (camera.chroma_noise * rng.standard_normal((tiles, half, half, 3))).astype(np.float32)
            self.chroma = np.repeat(np.repeat(coarse, 2, axis=1), 2, axis=2)

    def develop(self, image: np.ndarray, buffers: RasterBuffers, blur_sigma: float) -> np.ndarray:
        """(Tc, S, S, 3) uint8 from the composed chunk `image` (float32, 0..255; changed)."""
        walk, camera, size, shift = self.look.walk, self.look.camera, self.size, self.shift
        frames = len(image)
        shot = self._crops(self.shot, frames)
        chroma = self._crops(self.chroma, frames)
        out = np.empty(image.shape, dtype=np.uint8)
        for k in range(frames):
            frame = image[k]
            if walk.outline > 0:
                frame[_ink_lines(buffers.depth[k])] *= 1.0 - walk.outline
            frame = cv2.transform(frame, self.affine)  # the colour grade
            frame *= self.vignette
            if shot is not None:
                level = cv2.sqrt(np.maximum(frame, 0.0))  # shot noise grows with the signal
                level *= shot[k]
                frame += level
            if chroma is not None:
                frame += chroma[k]
            np.clip(frame, 0, 255, out=frame)
            pixels = frame.astype(np.uint8)
            if shift > 0:  # chromatic aberration: red and blue slide apart
                pixels[:, shift:, 0] = pixels[:, :-shift, 0].copy()
                pixels[:, :-shift, 2] = pixels[:, shift:, 2].copy()
            if blur_sigma > 0.3:
                pixels = cv2.GaussianBlur(pixels, (0, 0), blur_sigma)
            if camera.jpeg_quality > 0:
                ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR),
                                           [cv2.IMWRITE_JPEG_QUALITY, camera.jpeg_quality])
                if not ok:
                    raise RuntimeError("in-camera JPEG encoding failed")
                pixels = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            out[k] = pixels
        return out

    def _crops(self, bank: np.ndarray | None, frames: int) -> list[np.ndarray] | None:
        """A random frame-sized crop of a random tile of `bank` for each of `frames` frames."""
        if bank is None:
            return None
        tiles = self.rng.integers(len(bank), size=frames)
        offsets = self.rng.integers(0, bank.shape[1] - self.size + 1, size=(frames, 2))
        return [bank[t, dy:dy + self.size, dx:dx + self.size] for t, (dy, dx) in zip(tiles, offsets)]


_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def _ink_lines(depth: np.ndarray) -> np.ndarray:
    """(S, S) bool: surface pixels next to something more than 12 cm farther away (the
    background, or a part behind): ink lines inside the silhouette and along limbs."""
    with np.errstate(invalid="ignore"):
        return cv2.dilate(depth, _CROSS) - depth > 0.12


def _grade_affine(look: WalkLook) -> np.ndarray:
    """(3, 4) float32: the look's colour grade as one affine map of RGB (0..255); every
    grade is linear in the colour and its luma.

    vivid: saturation x (1 + 1.2 k); faded: saturation x (1 - 0.9 k), a warm tint and lifted
    blacks; split: shadows towards one colour, highlights towards another; duotone: the luma
    mapped onto a dark-to-light ramp between two colours, mixed in by k.
    """
    k = look.grade_strength
    first, second = (np.asarray(c, dtype=np.float64) for c in look.grade_colours)
    identity = np.eye(3)
    to_luma = np.outer(np.ones(3), LUMA.astype(np.float64))  # rows: x -> luma(x)
    offset = np.zeros(3)
    if look.grade == "vivid":
        s = 1.0 + 1.2 * k
        matrix = s * identity + (1.0 - s) * to_luma
    elif look.grade == "faded":
        s = 1.0 - 0.9 * k
        matrix = np.diag(0.85 * first) @ (s * identity + (1.0 - s) * to_luma)
        offset = np.full(3, 20.0)
    elif look.grade == "split":
        matrix = identity + (70.0 * k / 255.0) * np.outer(second - first, LUMA)
        offset = 70.0 * k * (first - 0.5)
    else:  # duotone
        matrix = (1.0 - k) * identity + k * np.outer(second - first, LUMA)
        offset = 255.0 * k * first
    return np.concatenate([matrix, offset[:, None]], axis=1).astype(np.float32)


def _hash_noise(u: np.ndarray, v: np.ndarray, seed: int) -> np.ndarray:
    """Smooth value noise in [0, 1] from an integer hash of the lattice (no tables)."""
    iu, iv = np.floor(u), np.floor(v)
    fu, fv = (u - iu).astype(np.float32), (v - iv).astype(np.float32)
    iu, iv = iu.astype(np.int64), iv.astype(np.int64)
    su, sv = fu * fu * (3 - 2 * fu), fv * fv * (3 - 2 * fv)
    h00, h10 = _hash01(iu, iv, seed), _hash01(iu + 1, iv, seed)
    h01, h11 = _hash01(iu, iv + 1, seed), _hash01(iu + 1, iv + 1, seed)
    return h00 + (h10 - h00) * su + (h01 - h00) * sv + (h00 - h10 - h01 + h11) * su * sv


def _hash01(i: np.ndarray, j: np.ndarray, seed: int) -> np.ndarray:
    h = (i * 374761393 + j * 668265263 + (seed % 1000003) * 1442695041) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * 1274126177) & 0xFFFFFFFF
    h ^= h >> 16
    return (h.astype(np.float32) / np.float32(2**32)).astype(np.float32)


def _shifted_colour(rng: np.random.Generator) -> RGB:
    """A clothes colour outside the standard range: neon, pastel or ink-black."""
    family = rng.random()
    hue = rng.random()
    if family < 0.6:
        return _hsv(hue, rng.uniform(0.9, 1.0), rng.uniform(0.93, 1.0))
    if family < 0.85:
        return _hsv(hue, rng.uniform(0.12, 0.3), rng.uniform(0.94, 1.0))
    return _hsv(hue, rng.uniform(0.0, 1.0), rng.uniform(0.02, 0.08))


def _contrasting_colour(rng: np.random.Generator, base: RGB) -> RGB:
    """A shifted-style colour at least 0.35 away from `base` in luma (black or white failing)."""
    luma = float(np.dot(LUMA, base))
    for _ in range(8):
        colour = _shifted_colour(rng)
        if abs(float(np.dot(LUMA, colour)) - luma) >= 0.35:
            return colour
    return (0.02, 0.02, 0.02) if luma > 0.5 else (0.98, 0.98, 0.98)


def _hsv(h: float, s: float, v: float) -> RGB:
    return tuple(float(x) for x in colorsys.hsv_to_rgb(float(h) % 1.0, float(s), float(v)))
