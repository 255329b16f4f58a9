"""Built-in synthetic multi-identity face data set.

Real face data gives no ground truth for a swap: nobody has footage of person B
making exactly the expression person A made in a given frame. Here identity
(appearance) and performance (pose, expression, lighting) are separate inputs to
``render``, so the true swap of a frame is just the same performance rendered as
the other identity. That lets the autoencoder be trained on several people and
its swaps be scored against real answers, with no download.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from combtf.faces.crops import points

RGB = tuple[float, float, float]

NAMES = ("ada", "ben", "cleo", "dev", "eli", "fay", "gus", "hana")
CLOSED_MOUTH_MAX = 0.1
MAX_YAW = math.radians(40.0)  # head turns with `turns`: DeepFaceLab's "full face" range before the far eye hides
FRONTAL_MAX = math.radians(10.0)  # `frontal` identities stay within this yaw
_HEAD_DEPTH = 0.85  # the head is an ellipsoid this deep (face half-heights); yaw turns it
_NOSE_DEPTH = 0.3  # how far the nose stands in front of it
_EYE_V, _MOUTH_V, _BROW_TILT = -0.12, 0.5, 0.15  # eye line and mouth height (face half-heights), brow tilt (radians)

# Face half-height and centre height in image units (the image spans -1..1), so the
# face fills ~60% of the crop height, a little below centre, like an aligned crop.
_FACE_HALF = 0.6
_FACE_Y = 0.06

# Palettes the identities draw from without repetition, so any two look clearly different.
_SKINS: tuple[RGB, ...] = (
    (0.96, 0.80, 0.69), (0.89, 0.69, 0.56), (0.78, 0.58, 0.43), (0.66, 0.46, 0.32),
    (0.52, 0.35, 0.24), (0.40, 0.27, 0.18), (0.90, 0.70, 0.66), (0.80, 0.66, 0.46),
)
_HAIRS: tuple[RGB, ...] = (
    (0.08, 0.07, 0.07), (0.28, 0.17, 0.09), (0.62, 0.24, 0.09), (0.86, 0.72, 0.40),
    (0.62, 0.62, 0.65), (0.50, 0.36, 0.22), (0.36, 0.20, 0.48), (0.14, 0.28, 0.52),
)
_IRISES: tuple[RGB, ...] = (
    (0.36, 0.21, 0.10), (0.25, 0.47, 0.78), (0.24, 0.56, 0.30), (0.52, 0.42, 0.20),
    (0.50, 0.56, 0.62), (0.16, 0.10, 0.07), (0.72, 0.50, 0.14), (0.38, 0.30, 0.72),
)
_LIPS: tuple[RGB, ...] = (
    (0.78, 0.36, 0.36), (0.62, 0.30, 0.30), (0.86, 0.20, 0.30), (0.55, 0.24, 0.24),
    (0.74, 0.42, 0.40), (0.46, 0.20, 0.22), (0.84, 0.48, 0.50), (0.66, 0.20, 0.42),
)

_WHITE = np.array((0.95, 0.95, 0.93), np.float32)
_DARK = np.array((0.10, 0.07, 0.06), np.float32)
_MOUTH_INSIDE = np.array((0.28, 0.06, 0.08), np.float32)
_TEETH = np.array((0.93, 0.92, 0.87), np.float32)
_BG_TOP = np.array((0.71, 0.76, 0.83), np.float32)
_BG_BOTTOM = np.array((0.49, 0.54, 0.63), np.float32)


@dataclass(frozen=True)
class Identity:
    """Appearance of one synthetic person: everything a swap must replace.

    Lengths are in face half-heights (the face ellipse is ``face_ratio`` wide and
    1 high); colours are RGB in 0..1.
    """

    name: str
    face_ratio: float  # face width / height
    skin: RGB
    hair: RGB
    fringe_height: float  # how far above the face centre the fringe ends
    hair_length: float  # how far down (from the face centre) the side hair falls
    hair_volume: float  # how far the hair stands off the head
    eye_size: float  # half-width of an eye
    iris: RGB
    nose_length: float  # eye line to nose tip
    nose_width: float
    mouth_width: float  # half-width of the mouth
    lip: RGB
    brow_thickness: float
    eye_spacing: float = 0.42  # eye centre from the face's midline, in face half-widths
    eye_shape: float = 0.6  # eye height over width


@dataclass(frozen=True)
class Performance:
    """What a swap must carry over from the target frame, independent of identity."""

    dx: float  # head position, fraction of image size
    dy: float
    roll: float  # radians
    scale: float
    mouth_open: float  # 0..1
    eye_open: float  # 0..1, 0 = closed
    light_angle: float  # radians, direction the soft light comes from
    light_strength: float  # 0..0.35, shading amplitude
    yaw: float = 0.0  # radians, out-of-plane head turn; > 0 turns the face towards the image's right
    eye_open_left: float | None = None  # the subject's left eye (image right); None: as `eye_open`

    @property
    def left_eye(self) -> float:
        return self.eye_open if self.eye_open_left is None else self.eye_open_left

    def row(self) -> list[float]:
        """The values `performances.csv` holds, in field order, the left eye resolved."""
        return [self.left_eye if f.name == "eye_open_left" else getattr(self, f.name) for f in dataclasses.fields(self)]


def make_identities(n: int, seed: int = 0, varied: bool = False) -> list[Identity]:
    """Return ``n`` (2..8) identities named from ``NAMES``.

    Every attribute is a fresh permutation of eight evenly spaced values (or palette
    entries), so any two identities differ in every feature, not just by chance.  ``varied``
    widens face and mouth width and eye size, and adds eye spacing, eye shape and lip contrast:
    enough identity that a coverage measure reading identity as a gap fails (the default keeps
    the demo's faces).
    """
    if not 2 <= n <= len(NAMES):
        raise ValueError(f"identities must be between 2 and {len(NAMES)}, got {n}")
    rng = np.random.default_rng(seed)
    k = len(NAMES)

    def spread(lo: float, hi: float) -> list[float]:
        return [float(v) for v in np.linspace(lo, hi, k)[rng.permutation(k)]]

    def pick(palette: tuple[RGB, ...]) -> list[RGB]:
        return [palette[i] for i in rng.permutation(k)]

    wide = {"face_ratio": (0.62, 0.95), "eye_size": (0.12, 0.21), "mouth_width": (0.15, 0.34)} if varied else {}
    columns = {
        "face_ratio": spread(*wide.get("face_ratio", (0.70, 0.88))),
        "skin": pick(_SKINS),
        "hair": pick(_HAIRS),
        "fringe_height": spread(0.42, 0.75),
        "hair_length": spread(-0.35, 0.85),
        "hair_volume": spread(1.07, 1.22),
        "eye_size": spread(*wide.get("eye_size", (0.14, 0.19))),
        "iris": pick(_IRISES),
        "nose_length": spread(0.26, 0.40),
        "nose_width": spread(0.07, 0.12),
        "mouth_width": spread(*wide.get("mouth_width", (0.19, 0.30))),
        "lip": pick(_LIPS),
        "brow_thickness": spread(0.025, 0.055),
    }
    if varied:
        columns["eye_spacing"] = spread(0.35, 0.50)
        columns["eye_shape"] = spread(0.42, 0.80)
        contrast = spread(0.35, 1.4)  # lip colour pulled towards the skin (< 1) or pushed away from it
        columns["lip"] = [
            tuple(float(np.clip(sk + c * (li - sk), 0.0, 1.0)) for sk, li in zip(skin, lip))
            for skin, lip, c in zip(columns["skin"], columns["lip"], contrast)
        ]
    return [
        Identity(name=NAMES[i], **{key: values[i] for key, values in columns.items()})
        for i in range(n)
    ]


def sample_performance(rng: np.random.Generator, turns: bool = False) -> Performance:
    """Draw a random head pose, expression and lighting (independent of identity).

    ``turns`` adds out-of-plane yaw (up to ``MAX_YAW``) and eyes that close on their own (winks);
    its draws come after the others, so the rest of a performance is the same either way.
    """
    dx, dy = (float(v) for v in rng.uniform(-0.06, 0.06, 2))
    roll = float(rng.uniform(-0.25, 0.25))
    scale = float(rng.uniform(0.9, 1.1))
    mouth_open = float(rng.uniform(0.0, 1.0))
    # Blinks are common enough that closed eyes are well represented.
    blink = rng.uniform() < 0.2
    eye_open = float(rng.uniform(0.0, 0.25) if blink else rng.uniform(0.55, 1.0))
    light_angle = float(rng.uniform(-math.pi, math.pi))
    light_strength = float(rng.uniform(0.0, 0.35))
    perf = Performance(dx, dy, roll, scale, mouth_open, eye_open, light_angle, light_strength)
    if not turns:
        return perf
    yaw = float(rng.uniform(-MAX_YAW, MAX_YAW))
    left = eye_open if blink else float(rng.uniform(0.55, 1.0))
    if not blink and rng.uniform() < 0.12:  # a wink: one eye shut, the other open
        left = float(rng.uniform(0.0, 0.25))
    if rng.uniform() < 0.5:
        eye_open, left = left, eye_open
    return dataclasses.replace(perf, eye_open=eye_open, eye_open_left=left, yaw=yaw)


def _ellipse(u: np.ndarray, v: np.ndarray, cu: float, cv: float, ru: float, rv: float) -> np.ndarray:
    """Approximate signed distance to an ellipse (exact enough near its edge for anti-aliasing)."""
    du = (u - cu) / ru
    dv = (v - cv) / rv
    grad = 2.0 * np.sqrt((du / ru) ** 2 + (dv / rv) ** 2) + 1e-6
    return (du * du + dv * dv - 1.0) / grad


def _lid(eh: float, eye_open: float | np.ndarray) -> tuple:
    """Half-height and centre height of the lid opening of an eye `eh` high."""
    open_h = eh * (0.1 + 0.9 * eye_open)
    return open_h, _EYE_V + 0.6 * (eh - open_h)


def _inner_lip(mouth_open: float) -> float:
    return 0.02 + 0.12 * mouth_open


def _surface_x(u: np.ndarray, v: np.ndarray, r: float, cy: float, sy: float) -> np.ndarray:
    """Where the view ray through image point (u, v) meets the turned head ellipsoid, across the face.

    The ray's depth t solves a quadratic; outside the outline (no real root) the closest approach
    is taken, so x stays continuous there.
    """
    if sy == 0.0:
        return u
    d2, r2 = _HEAD_DEPTH**2, r * r
    a = sy * sy / r2 + cy * cy / d2
    b = 2.0 * u * sy * cy * (1.0 / d2 - 1.0 / r2)
    c = u * u * (cy * cy / r2 + sy * sy / d2) - (1.0 - v * v)
    t = (-b + np.sqrt(np.maximum(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)
    return (u * cy - t * sy).astype(np.float32)


class _Layers:
    """Premultiplied over-compositing of the head, so shading can be applied to it at the end."""

    def __init__(self, pixel: float, shape: tuple[int, int]) -> None:
        self.pixel = pixel
        self.colour = np.zeros((*shape, 3), np.float32)
        self.alpha = np.zeros(shape, np.float32)

    def cover(self, dist: np.ndarray) -> np.ndarray:
        """Pixel coverage of the region ``dist < 0`` (a one-pixel linear ramp anti-aliases it)."""
        return np.clip(0.5 - dist / self.pixel, 0.0, 1.0)

    def paint(self, cov: np.ndarray, colour: np.ndarray | RGB) -> None:
        cov3 = cov[..., None]
        self.colour = self.colour * (1.0 - cov3) + cov3 * np.asarray(colour, np.float32)
        self.alpha = cov + self.alpha * (1.0 - cov)


def render(identity: Identity, perf: Performance, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Render ``identity`` doing ``perf`` as an aligned ``size``-pixel face crop.

    Returns (rgb uint8 [size, size, 3], mask uint8 [size, size]); the mask is the
    face ellipse with a feathered edge, moved by the same head pose as the image.
    """
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    idt = identity
    grid = (np.arange(size, dtype=np.float32) + 0.5) * (2.0 / size) - 1.0
    x, y = grid[None, :], grid[:, None]

    # Image -> face coordinates: undo the head translation, roll and scale.
    c, s = math.cos(perf.roll), math.sin(perf.roll)
    k = 1.0 / (perf.scale * _FACE_HALF)
    px, py = x - 2.0 * perf.dx, y - (_FACE_Y + 2.0 * perf.dy)
    u = (c * px + s * py) * k
    v = (-s * px + c * py) * k
    layers = _Layers(2.0 / size * k, (size, size))
    cover = layers.cover

    r = idt.face_ratio
    skin = np.asarray(idt.skin, np.float32)
    hair = np.asarray(idt.hair, np.float32)
    # Yaw turns the head, an ellipsoid r wide, 1 high and _HEAD_DEPTH deep, about its vertical
    # axis; features are drawn on its surface, so ``x`` (not ``u``) is where a pixel lies on the
    # face.  Its outline stays an ellipse, ``width`` wide.  At yaw 0, x is u exactly.
    cy, sy = math.cos(perf.yaw), math.sin(perf.yaw)
    width = math.hypot(r * cy, _HEAD_DEPTH * sy)
    fx = _surface_x(u, v, r, cy, sy)
    ua = np.abs(fx)  # mirrored, so each paired feature is one evaluation
    us = u * (r / width)  # behind the face (neck, ears, hair): the outline's width

    # Neck and ears sit behind the hair, so long hair hides the ears.
    layers.paint(cover(np.maximum(np.abs(us) - 0.36 * r, 0.55 - v)), skin * 0.8)
    layers.paint(cover(_ellipse(ua, v, 0.98 * r, -0.02, 0.11, 0.19)), skin * 0.9)

    # Hair behind the head: a dome over the top continuing straight down the sides.
    vol = idt.hair_volume
    hair_top = np.where(v < -0.1, _ellipse(us, v, 0.0, -0.1, r * vol, vol + 0.05), np.abs(us) - r * vol)
    hair_shape = np.maximum(hair_top, v - idt.hair_length)
    layers.paint(cover(hair_shape), hair)

    face = _ellipse(u, v, 0.0, 0.0, width, 1.0)
    face_cov = cover(face)
    layers.paint(face_cov, skin)

    # Eyes: socket/lid, white showing through the lid opening, iris, pupil, lash line.
    ex, ev, ew = idt.eye_spacing * r, _EYE_V, idt.eye_size
    eh = idt.eye_shape * ew
    layers.paint(cover(_ellipse(ua, v, ex, ev, ew * 1.05, eh * 1.1)), skin * 0.86)
    eye_open = perf.eye_open if perf.left_eye == perf.eye_open else np.where(fx < 0, perf.eye_open, perf.left_eye)
    open_h, open_v = _lid(eh, eye_open)
    open_cov = cover(_ellipse(ua, v, ex, open_v, ew, open_h))
    layers.paint(open_cov, _WHITE)
    iris_r = 0.8 * eh
    layers.paint(cover(_ellipse(ua, v, ex, ev, iris_r, iris_r)) * open_cov, idt.iris)
    layers.paint(cover(_ellipse(ua, v, ex, ev, 0.4 * iris_r, 0.4 * iris_r)) * open_cov, _DARK)
    # Lid edges as curves (an outline of a nearly flat ellipse would break up when the eye closes).
    du = np.clip((ua - ex) / ew, -1.0, 1.0)
    arc = open_h * np.sqrt(1.0 - du * du)
    inside_eye = cover(np.abs(ua - ex) - ew)
    layers.paint(cover(np.abs(v - (open_v + arc)) - 0.007) * inside_eye * 0.6, _DARK)
    layers.paint(cover(np.abs(v - (open_v - arc)) - 0.014) * inside_eye, _DARK)

    # Brows, tilted down towards the temples.
    bt = _BROW_TILT
    bu, bv = ua - (ex + 0.02), v - (ev - eh - 0.11)
    layers.paint(
        cover(_ellipse(math.cos(bt) * bu + math.sin(bt) * bv, -math.sin(bt) * bu + math.cos(bt) * bv,
                       0.0, 0.0, ew * 1.25, idt.brow_thickness)),
        0.6 * hair + 0.4 * _DARK,
    )

    # Nose: shadow down one side of the bridge, a rounded tip, nostrils.
    nl, nw = idt.nose_length, idt.nose_width
    xn = fx - _NOSE_DEPTH * sy  # standing off the face, the nose moves further when the head turns
    layers.paint(cover(_ellipse(xn, v, 0.55 * nw, ev + 0.55 * nl, 0.02, 0.4 * nl)) * 0.8, skin * 0.72)
    layers.paint(cover(_ellipse(xn, v, 0.0, ev + nl, nw, 0.6 * nw)) * 0.6, skin * 0.84)
    layers.paint(cover(_ellipse(np.abs(xn), v, 0.5 * nw, ev + nl + 0.3 * nw, 0.3 * nw, 0.17 * nw)), skin * 0.4)

    # Mouth: lips around a dark opening whose height follows mouth_open; upper teeth inside.
    mv, mw = _MOUTH_V, idt.mouth_width
    inner_h = _inner_lip(perf.mouth_open)
    layers.paint(cover(_ellipse(fx, v, 0.0, mv, mw, inner_h + 0.045)), idt.lip)
    inner_cov = cover(_ellipse(fx, v, 0.0, mv, 0.8 * mw, inner_h))
    layers.paint(inner_cov, _MOUTH_INSIDE)
    layers.paint(inner_cov * cover(v - (mv - 0.4 * inner_h)), _TEETH)

    # Fringe over the forehead, with a gentle wave along its edge.
    fringe_edge = -idt.fringe_height + 0.035 * np.cos(fx * 14.0)
    layers.paint(face_cov * cover(np.maximum(v - fringe_edge, hair_shape)), hair)

    # Soft directional light on a rounded head (normal taken from a head-sized ellipse),
    # with the light direction fixed in the image, not on the head.
    nu, nv = u / (r * 1.15), (v + 0.05) / 1.15
    length = np.sqrt(nu * nu + nv * nv)
    squash = np.minimum(1.0, 1.0 / np.maximum(length, 1e-6))
    nu, nv = nu * squash, nv * squash
    lit = (c * nu - s * nv) * math.cos(perf.light_angle) + (s * nu + c * nv) * math.sin(perf.light_angle)
    shade = (1.0 + perf.light_strength * lit) * (1.0 - 0.12 * np.minimum(length, 1.0) ** 2)

    t = (y + 1.0) * 0.5
    vignette = (1.0 - 0.08 * x * x)[..., None]
    background = (_BG_TOP * (1.0 - t)[..., None] + _BG_BOTTOM * t[..., None]) * vignette
    rgb = background * (1.0 - layers.alpha)[..., None] + layers.colour * shade[..., None]

    feather = max(layers.pixel, 0.05)
    m = np.clip(0.5 - face / (2.0 * feather), 0.0, 1.0)
    mask = m * m * (3.0 - 2.0 * m)
    return (
        np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8),
        np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8),
    )


def landmarks(identity: Identity, perf: Performance, size: int) -> np.ndarray:
    """The 68 points (dlib's order, pixel centres at integers) of `render`'s face: where a perfect
    landmark detector would put them.  dlib's own predictor cannot read these flat faces
    (docs/experiments/coverage.md), so `write_demo_data` stores these in each crop's sidecar.
    """
    idt, r = identity, identity.face_ratio
    cy, sy = math.cos(perf.yaw), math.sin(perf.yaw)
    ex, ew = idt.eye_spacing * r, idt.eye_size
    eh = idt.eye_shape * ew
    third = math.sqrt(1.0 - 1.0 / 9.0)
    points: list[tuple[float, float]] = []  # face texture coordinates (x across the face, v down)

    jaw = np.linspace(-0.15, math.pi + 0.15, 17)  # along the outline, from the image-left ear to the right one
    width = math.hypot(r * cy, _HEAD_DEPTH * sy)
    outline = [(-width * math.cos(a), math.sin(a)) for a in jaw]  # already image coordinates (no surface)
    brow_v = _EYE_V - eh - 0.11
    along = np.linspace(1.25 * ew, -1.25 * ew, 5)  # outer end to inner end
    for side, ends in ((-1.0, along), (1.0, along[::-1])):
        points += [(side * (ex + 0.02 + math.cos(_BROW_TILT) * a), brow_v + math.sin(_BROW_TILT) * a) for a in ends]
    nose_tip = _EYE_V + idt.nose_length
    nose = [(0.0, _EYE_V + f * idt.nose_length) for f in (0.0, 1 / 3, 2 / 3, 1.0)]
    nose += [(f * idt.nose_width, nose_tip + 0.3 * idt.nose_width) for f in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    points += [(x + _NOSE_DEPTH * sy, v) for x, v in nose]
    for side, eye_open in ((-1.0, perf.eye_open), (1.0, perf.left_eye)):
        open_h, open_v = _lid(eh, eye_open)
        arc = open_h * third
        # dlib goes round each eye clockwise in the image from its image-left corner
        xs = [-ew, -ew / 3, ew / 3, ew, ew / 3, -ew / 3]
        vs = [open_v, open_v - arc, open_v - arc, open_v, open_v + arc, open_v + arc]
        points += [(side * ex + x, v) for x, v in zip(xs, vs)]
    mw, inner = idt.mouth_width, _inner_lip(perf.mouth_open)
    outer = inner + 0.045
    ring = np.linspace(0.0, 2.0 * math.pi, 13)[:-1]  # from the image-left corner, over the top, back under
    points += [(-mw * math.cos(a), _MOUTH_V - outer * math.sin(a)) for a in ring]
    points += [(-0.8 * mw * math.cos(a), _MOUTH_V - inner * math.sin(a)) for a in np.linspace(0.0, 2.0 * math.pi, 9)[:-1]]

    x = np.array([p[0] for p in points])
    v = np.array([p[1] for p in points])
    depth = _HEAD_DEPTH * np.sqrt(np.maximum(1.0 - (x / r) ** 2 - v**2, 0.0))
    face = np.concatenate([np.array(outline), np.stack([x * cy + depth * sy, v], 1)])
    c, s = math.cos(perf.roll), math.sin(perf.roll)
    k = 1.0 / (perf.scale * _FACE_HALF)
    px, py = (c * face[:, 0] - s * face[:, 1]) / k, (s * face[:, 0] + c * face[:, 1]) / k
    image = np.stack([px + 2.0 * perf.dx, py + _FACE_Y + 2.0 * perf.dy], 1)
    return (image + 1.0) * (size / 2.0) - 0.5


_README = """\
Synthetic multi-identity face set made by combtf (ground truth for face swaps).
train/<name>/<name>_NNNN.png: each identity with its own random pose, expression, lighting.
eval/<name>/eval_NNNN.png: image NNNN is the SAME performance for every identity (true swaps).
Each folder's masks/ holds 8-bit face masks (255 = face) under the same file names, and each
crop's .json sidecar its 68 landmarks (where the renderer drew the features).
"""


def write_demo_data(
    out: Path,
    identities: int = 3,
    images: int = 400,
    eval_images: int = 40,
    size: int = 128,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    closed_mouth: tuple[str, ...] = (),
    turns: bool = False,
    frontal: tuple[str, ...] = (),
) -> dict:
    """Write the synthetic data set to ``out`` (see the module docstring for why).

    Everything goes to a temporary sibling folder first, renamed to ``out`` only
    when complete, so an interrupted run never leaves a half-written set behind.
    ``progress(k)`` is told about every ``k`` images written; there are
    ``identities * (images + eval_images)`` in all. The output is byte-for-byte
    deterministic for a given seed. Identities named in ``closed_mouth`` never open their
    mouths in training (mouth opening at most 0.1): the case a coverage report must find.
    ``turns`` turns heads (yaw up to ``MAX_YAW``), lets each eye close on its own and varies the
    identities more widely (`make_identities`); identities named in ``frontal`` then stay within
    ``FRONTAL_MAX`` of yaw in training.  Every training folder gets a ``performances.csv`` with each
    image's performance (the truth tests score against), and every crop a sidecar with its 68
    landmarks (`landmarks`), as `combtf extract` writes them.
    """
    out = Path(out)
    if images < 1 or eval_images < 0:
        raise ValueError(f"need images >= 1 and eval_images >= 0, got {images} and {eval_images}")
    if size < 8:
        raise ValueError(f"size must be at least 8, got {size}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} already exists and is not empty")
    if frontal and not turns:
        raise ValueError("frontal needs turns: without them every head is frontal")
    people = make_identities(identities, seed, varied=turns)
    for option, names in (("closed_mouth", closed_mouth), ("frontal", frontal)):
        unknown = set(names) - {p.name for p in people}
        if unknown:
            raise ValueError(f"{option} names unknown identities: {', '.join(sorted(unknown))}")

    # One stream for the shared eval performances, one per identity for training.
    eval_seq, *train_seqs = np.random.SeedSequence(seed).spawn(identities + 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)

    def save(identity: Identity, perf: Performance, folder: Path, stem: str) -> None:
        rgb, mask = render(identity, perf, size)
        sidecar = {"crop_landmarks": points(landmarks(identity, perf, size)), "crop_size": size, "landmarks_from": "renderer"}
        (folder / f"{stem}.json").write_text(json.dumps(sidecar))
        Image.fromarray(rgb, "RGB").save(folder / f"{stem}.png", compress_level=1)
        Image.fromarray(mask, "L").save(folder / "masks" / f"{stem}.png", compress_level=1)
        if progress is not None:
            progress(1)

    try:
        for split in ("train", "eval"):
            for person in people:
                (tmp / split / person.name / "masks").mkdir(parents=True)
        for person, seq in zip(people, train_seqs):
            rng = np.random.default_rng(seq)
            rows = ["stem," + ",".join(f.name for f in dataclasses.fields(Performance))]
            for i in range(images):
                perf = sample_performance(rng, turns)
                if person.name in closed_mouth:
                    perf = dataclasses.replace(perf, mouth_open=perf.mouth_open * CLOSED_MOUTH_MAX)
                if person.name in frontal:
                    perf = dataclasses.replace(perf, yaw=perf.yaw * (FRONTAL_MAX / MAX_YAW))
                stem = f"{person.name}_{i:04d}"
                save(person, perf, tmp / "train" / person.name, stem)
                rows.append(stem + "," + ",".join(f"{v:.4f}" for v in perf.row()))
            (tmp / "train" / person.name / "performances.csv").write_text("\n".join(rows) + "\n")
        eval_rng = np.random.default_rng(eval_seq)
        for j in range(eval_images):
            perf = sample_performance(eval_rng, turns)
            for person in people:
                save(person, perf, tmp / "eval" / person.name, f"eval_{j:04d}")
        (tmp / "README.txt").write_text(_README)
        if out.exists():
            out.rmdir()  # checked empty above; rename cannot replace a folder everywhere
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {
        "identities": [p.name for p in people],
        "train_per_identity": images,
        "eval_per_identity": eval_images,
        "size": size,
        "path": str(out),
    }
