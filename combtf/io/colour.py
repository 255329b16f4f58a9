"""Colour management through OpenColorIO 2: a plate's space to the model's working space and back.

Spaces are named by the config's roles, which survive config versions where names change:
the model works in the `color_picking` role (sRGB-encoded Rec.709 in OCIO's built-in configs:
display-referred, like the photos combtf trains on). A plate's own space defaults by what it
holds (docs/swapping.md, "Plates"): float data (EXR, float TIFF) is `scene_linear`, a DPX whose
header says log is `compositing_log`, every other integer image is already sRGB and is not
converted at all, so 8- and 16-bit frames round-trip bit for bit.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache

import numpy as np

from combtf.errors import CombtfError

DEFAULT_CONFIG = "ocio://default"  # OCIO's built-in CG config (ACES 2): nothing to download
WORKING_ROLE = "color_picking"
SCENE_LINEAR, LOG = "scene_linear", "compositing_log"
LOG_TRANSFERS = ("Logarithmic", "Printing density")  # DPX header transfer values that mean log-encoded
_THREADS = max(1, min(os.cpu_count() or 1, 8))


def _ocio():  # noqa: ANN202 - the module, imported late: photos-only work needs no OpenColorIO
    try:
        import PyOpenColorIO
    except ImportError as exc:
        raise CombtfError("colour management needs OpenColorIO: pip install opencolorio") from exc
    return PyOpenColorIO


@cache
def load_config(path: str = DEFAULT_CONFIG):  # noqa: ANN201 - PyOpenColorIO.Config
    """A config file (untrusted: any parse error is a one-line error naming it) or a built-in `ocio://` URI."""
    ocio = _ocio()
    if not path.startswith("ocio://") and not os.path.isfile(path):
        raise CombtfError(f"{path}: OCIO config not found")
    try:
        config = ocio.Config.CreateFromFile(path)
        config.validate()
    except Exception as exc:  # noqa: BLE001 - PyOpenColorIO raises its own Exception subclass for every failure
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise CombtfError(f"{path}: not a usable OCIO config ({first[:200]})") from exc
    if not config.getRoleColorSpace(WORKING_ROLE):
        raise CombtfError(f"{path}: OCIO config has no '{WORKING_ROLE}' role, the model's sRGB working space")
    return config


def default_space(is_float: bool, dpx_transfer: str | None) -> str:
    """The role a plate is assumed to be in when --colorspace does not say."""
    if is_float:
        return SCENE_LINEAR
    if dpx_transfer in LOG_TRANSFERS:
        return LOG
    return WORKING_ROLE


@dataclass(frozen=True)
class Conversion:
    """Plate space <-> working space; `identity` when they are the same space (no arithmetic at all)."""

    config_path: str
    space: str  # a colour space or role name of the config

    def __post_init__(self) -> None:
        config = load_config(self.config_path)
        if config.getColorSpace(self.space) is None:
            raise CombtfError(f"--colorspace {self.space}: no such colour space or role in {self.config_path}")

    @property
    def identity(self) -> bool:
        config = load_config(self.config_path)
        return config.getColorSpace(self.space).getName() == config.getColorSpace(WORKING_ROLE).getName()

    def to_working(self, rgb: np.ndarray) -> np.ndarray:
        return self._apply(rgb, self.space, WORKING_ROLE)

    def to_plate(self, rgb: np.ndarray) -> np.ndarray:
        return self._apply(rgb, WORKING_ROLE, self.space)

    def to_working_uint8(self, pixels: np.ndarray) -> np.ndarray:
        """Stored RGB pixels (half, float, uint16 or uint8 [H, W, 3]) -> uint8 working space in one pass of OCIO's
        own bit-depth conversion (clipped to [0, 1], rounded: what `to_working` then scaling by 255 gives, 5x faster)."""
        ocio = _ocio()
        depth = _DEPTHS.get(pixels.dtype.name)
        if depth is None:
            raise CombtfError(f"pixels of type {pixels.dtype} cannot be colour-converted")
        pixels = np.ascontiguousarray(pixels)
        height, width = pixels.shape[:2]
        out = np.empty((height, width, 3), np.uint8)
        cpu = _processor(self.config_path, self.space, WORKING_ROLE, depth)
        size = pixels.itemsize

        def rows(block: tuple[int, int]) -> None:
            top, bottom = block
            cpu.apply(ocio.PackedImageDesc(pixels[top:bottom], width, bottom - top, 3, getattr(ocio, depth), size, 3 * size,
                                           3 * size * width),
                      ocio.PackedImageDesc(out[top:bottom], width, bottom - top, 3, ocio.BIT_DEPTH_UINT8, 1, 3, 3 * width))  # fmt: skip

        edges = np.linspace(0, height, _THREADS + 1).astype(int)
        with ThreadPoolExecutor(_THREADS) as pool:
            list(pool.map(rows, zip(edges[:-1], edges[1:])))
        return out

    def _apply(self, rgb: np.ndarray, source: str, destination: str) -> np.ndarray:
        """float32 [..., 3] -> a converted copy; rows split over the cores (OCIO's CPU path is single-threaded)."""
        out = np.array(rgb, dtype=np.float32, order="C", copy=True)
        if self.identity:
            return out
        cpu = _processor(self.config_path, source, destination)
        rows = out.reshape(-1, 3)
        if rows.shape[0] < 65536:
            cpu.applyRGB(rows)
        else:
            with ThreadPoolExecutor(_THREADS) as pool:
                list(pool.map(cpu.applyRGB, np.array_split(rows, _THREADS)))
        return out


_DEPTHS = {"float16": "BIT_DEPTH_F16", "float32": "BIT_DEPTH_F32", "uint16": "BIT_DEPTH_UINT16", "uint8": "BIT_DEPTH_UINT8"}


@cache
def _processor(config_path: str, source: str, destination: str, depth: str | None = None):  # noqa: ANN202 - CPUProcessor
    """float32 in place, or `depth` (a PyOpenColorIO BIT_DEPTH_ name) in and uint8 out (approximations are far
    below a level there)."""
    processor, ocio = load_config(config_path).getProcessor(source, destination), _ocio()
    if depth is None:  # lossless: the default's fast log/pow approximations miss an ACEScct round trip by 1.4e-4
        return processor.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)
    return processor.getOptimizedCPUProcessor(getattr(ocio, depth), ocio.BIT_DEPTH_UINT8, ocio.OPTIMIZATION_DEFAULT)
