"""Plate swaps: untouched pixels bit for bit at every depth, layers that recompose the blend, flicker that ranks."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest
from PIL import Image

from combtf.faces.extract import ExtractOptions
from combtf.faces.sequence import PlateOptions
from combtf.faces.template import template
from combtf.faces.track import Observation
from combtf.io.plates import read_plate
from combtf.io.sequences import find
from combtf.swap.blend import BlendOptions
from combtf.swap.flicker import FlickerMeter
from combtf.swap.layers import write_layers, write_plate_frame
from combtf.swap.replace import FaceReplacer, working_uint8
from tests.helpers import TINY, run
from tests.io.test_plates import write_raw

W, H = 220, 180
SCALE, OFFSET = 0.55, np.array([40.0, 20.0])  # a 256 px template face placed in the frame


class Invert:
    """A 'decoder' whose face is the crop's negative: every masked pixel visibly changes."""

    run = Path("invert")
    can_match = False
    resolution = 64

    def swap(self, x: np.ndarray, source: str, target: str, match: bool = True) -> np.ndarray:
        return 1.0 - x


def _face(frame: int = 0, shift: np.ndarray | None = None) -> Observation:
    points = template(256) * SCALE + OFFSET + (0 if shift is None else shift)
    box = np.concatenate([points.min(0), points.max(0)])
    return Observation(frame, box, 1.0, points)


def _smooth(rng: np.random.Generator, top: float) -> np.ndarray:
    """A smooth image (blends behave as on footage) in [0, top]."""
    small = rng.uniform(0, 1, (9, 11, 3)).astype(np.float32)
    big = np.stack([np.asarray(Image.fromarray(small[..., c]).resize((W, H), Image.Resampling.BICUBIC)) for c in range(3)], -1)
    return np.clip(big, 0, 1) * top


CASES = {  # file: (stored type, OpenImageIO format, attributes, how values are made)
    "shot.1001.exr": (np.float16, "half", {"compression": "zip"}),
    "float.1001.exr": (np.float32, "float", {}),
    "deep.1001.tif": (np.uint16, "uint16", {}),
    "ten.1001.dpx": (np.uint16, "uint16", {"oiio:BitsPerSample": 10}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_swapped_plates_keep_every_untouched_pixel_and_highlights(name: str, tmp_path: Path) -> None:
    dtype, fmt, attributes = CASES[name]
    rng = np.random.default_rng(3)
    if np.dtype(dtype).kind == "f":
        values = _smooth(rng, 2.0)  # scene-linear: up to 2
        values[:6, :6] = 12.0  # a highlight outside the face
        pixels = values.astype(dtype)
    else:
        pixels = np.round(_smooth(rng, 1.0) * 65535).astype(dtype)
    source = write_raw(tmp_path / name, pixels, fmt, **attributes)
    plate = read_plate(source)
    conversion = PlateOptions().conversion(plate)
    replaced = FaceReplacer(Invert(), "a", "b", False, BlendOptions(), layers=True).replace(plate.rgb(), conversion, [_face()])
    written = write_plate_frame(tmp_path / "out", plate, replaced, "run", 1001, layers=True)
    again = read_plate(written)
    touched = replaced.touched
    assert 500 < touched.sum() < 0.6 * W * H
    assert again.pixels.dtype == plate.pixels.dtype and again.channels == ["R", "G", "B"]
    assert np.array_equal(again.pixels[~touched], plate.pixels[~touched])  # bit for bit, floats above 1 included
    inner = touched & (replaced.face[..., 3] > 0.9)
    assert np.abs(again.rgb()[inner] - plate.rgb()[inner]).mean() > 0.01  # the face did change (the paper blend keeps coarse light)
    if np.dtype(dtype).kind == "f":
        assert float(again.pixels[:6, :6].min()) == 12.0
    transform = json.loads((tmp_path / "out" / "transform" / f"{Path(name).stem}.json").read_text())
    assert transform["synthetic"] is True and transform["frame"] == 1001
    assert np.allclose(transform["faces"][0]["affine"], _face().affine(64), atol=1e-9)
    layer_files = sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.*") if "transform" not in p.parts)
    assert sorted(layer_files) == sorted([name] if name.endswith(".exr") else [f"face/{name}", f"matte/{name}", name])


def _full_layer(path: Path, part: str) -> np.ndarray:
    """An EXR part as a full-frame array (its data window placed in the frame)."""
    image = oiio.ImageInput.open(str(path))
    index = 0
    while image.spec().get_string_attribute("oiio:subimagename") != part:
        index += 1
        assert image.seek_subimage(index, 0), f"no part {part}"
    spec = image.spec()
    values = image.read_image(oiio.FLOAT)
    image.close()
    full = np.zeros((spec.full_height, spec.full_width, spec.nchannels), np.float32)
    full[spec.y : spec.y + spec.height, spec.x : spec.x + spec.width] = values
    return full


def test_a_merge_over_of_the_face_layer_reproduces_the_alpha_blend(tmp_path: Path) -> None:
    """Nuke's Merge (over): A + B (1 - a), A premultiplied. 8-bit: within one level; half EXR: within half's precision."""
    rng = np.random.default_rng(4)
    rgb = np.round(_smooth(rng, 1.0) * 255).astype(np.uint8)
    replacer = FaceReplacer(Invert(), "a", "b", False, BlendOptions(how="alpha", feather=4), layers=True)
    replaced = replacer.replace(rgb.astype(np.float32) / 255.0, None, [_face()])
    out = working_uint8(replaced.plate)
    dest = tmp_path / "photo.png"
    write_layers(dest, None, replaced, "run", {})
    face = read_plate(tmp_path / "face" / "photo.png")  # OpenImageIO premultiplies a PNG's straight alpha on reading
    assert face.pixels.dtype == np.uint16  # 16 bits: an 8-bit straight-alpha file would miss by 1.3 levels
    premultiplied = face.pixels.astype(np.float64) / 65535.0
    over = premultiplied[..., :3] + rgb / 255.0 * (1 - premultiplied[..., 3:])
    assert 0 < premultiplied[..., 3].mean() < 0.5
    assert np.abs(over * 255 - out.astype(np.float64)).max() <= 1.0
    matte = np.asarray(read_plate(tmp_path / "matte" / "photo.png").pixels, np.float64)[..., 0] / 65535.0
    assert np.abs(matte - premultiplied[..., 3]).max() <= 1 / 65535

    linear = _smooth(rng, 3.0).astype(np.float16)
    plate = read_plate(write_raw(tmp_path / "lin.0007.exr", linear, "half"))
    replaced = replacer.replace(plate.rgb(), PlateOptions().conversion(plate), [_face()])
    written = write_plate_frame(tmp_path / "out", plate, replaced, "run", 7, layers=True)
    face, matte = _full_layer(written, "face"), _full_layer(written, "matte")
    blended = read_plate(written).rgb()
    over = face[..., :3] + plate.rgb() * (1 - face[..., 3:])
    assert np.abs(over - blended).max() < 4e-3 * max(float(blended.max()), 1.0)  # half: 11 bits
    assert np.array_equal(matte[..., 0], face[..., 3])
    header = oiio.ImageInput.open(str(written))
    assert json.loads(header.spec().get_string_attribute("combtf:faces"))[0]["crop_size"] == 64
    header.close()


def test_the_flicker_figure_ranks_a_jittered_swap_above_a_still_one() -> None:
    rng = np.random.default_rng(5)
    base = np.round(_smooth(rng, 1.0) * 255).astype(np.uint8)
    landmarks = _face().landmarks
    still, jittered = FlickerMeter(), FlickerMeter()
    for _ in range(6):
        noisy = np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8)  # the plate's own sensor noise
        still.add((noisy, np.clip(base * 0.8 + 20, 0, 255).astype(np.uint8), np.zeros(2)), landmarks)
        shifted = np.roll(base, tuple(rng.integers(-3, 4, 2)), axis=(0, 1))  # the swap's face wanders by a few px
        jittered.add((noisy, shifted, np.zeros(2)), landmarks)
    assert still.pairs == jittered.pairs == 5
    assert still.flicker < 0.2 < 1.0 < jittered.flicker
    jittered.add(None, None)  # a frame without a face breaks the run: no pair across it
    jittered.add((base, base, np.zeros(2)), landmarks)
    assert jittered.pairs == 5


def _plates_of(photos: list[Path], folder: Path, numbers: list[int]) -> None:
    """Scene-linear half EXRs (ACEScg, the default config's scene_linear) made from photos."""
    from combtf.io.colour import DEFAULT_CONFIG, SCENE_LINEAR, Conversion

    linear = Conversion(DEFAULT_CONFIG, SCENE_LINEAR)
    folder.mkdir(parents=True)
    for photo, number in zip(photos, numbers):
        rgb = np.asarray(Image.open(photo).convert("RGB"), np.float32) / 255.0
        write_raw(folder / f"shot.{number:04d}.exr", linear.to_plate(rgb).astype(np.float16), "half", compression="zip")


def test_exr_sequences_extract_and_swap_from_the_command_line(shared_faces: Path, tmp_path: Path) -> None:
    """extract a pattern with a gap -> train (tiny) -> swap the pattern with --layers and --frames; --strict stops."""
    photos = sorted((shared_faces / "photos" / "person_d").glob("*.jpg"))[:5]
    _plates_of(photos, tmp_path / "plates", [1001, 1002, 1004, 1005, 1006])  # 1003 is missing
    pattern = str(tmp_path / "plates" / "shot.####.exr")
    result = run("extract", pattern, "--identity", "d", "--data", tmp_path / "faces", "--size", "16", "--frames", "1001-1005", "--quiet")
    assert result.exit_code == 0, result.output
    assert "shot.1003.exr: missing from the sequence" in result.output
    assert sorted(p.name for p in (tmp_path / "faces" / "d").glob("*.png")) == [f"shot_00{n}_0.png" for n in (1001, 1002, 1004, 1005)]
    other = sorted((shared_faces / "photos" / "person_b").glob("*.jpg"))[:4]
    assert run("extract", *other, "--identity", "b", "--data", tmp_path / "faces", "--size", "16", "--quiet").exit_code == 0
    assert run("train", "--data", tmp_path / "faces", "--out", tmp_path / "run", *TINY).exit_code == 0

    out = tmp_path / "swapped"
    result = run("swap", "--model", tmp_path / "run", "--source", "b", "--target", "d", "--input", pattern, "--output", out,
                 "--layers", "--frames", "1002-1006")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "4 frames, 4 faces swapped" in result.output and "flicker " in result.output
    assert "skipped " in result.output and "shot.1003.exr: missing from the sequence" in result.output
    assert sorted(p.name for p in out.glob("*.exr")) == [f"shot.{n}.exr" for n in (1002, 1004, 1005, 1006)]
    assert sorted(p.name for p in (out / "transform").glob("*.json")) == [f"shot.{n}.json" for n in (1002, 1004, 1005, 1006)]
    plate, swapped = read_plate(tmp_path / "plates" / "shot.1004.exr"), read_plate(out / "shot.1004.exr")
    assert swapped.pixels.dtype == np.float16 and swapped.spec.get_string_attribute("Synthetic") == "true"
    changed = np.any(plate.pixels != swapped.pixels, axis=-1)
    assert 0 < changed.mean() < 0.5 and np.array_equal(plate.pixels[~changed], swapped.pixels[~changed])

    result = run("swap", "--model", tmp_path / "run", "--source", "b", "--target", "d", "--input", pattern, "--output", tmp_path / "x",
                 "--strict")  # fmt: skip
    assert result.exit_code == 2 and "shot.1003.exr: missing from the sequence (--strict)" in result.output
    assert not (tmp_path / "x").exists() or not list((tmp_path / "x").glob("*.exr"))


def test_sequence_swaps_read_every_frame_twice_and_keep_names(tmp_path: Path) -> None:
    """The library path without a detector: frames are found by a stand-in finder, TIFF layers land beside."""
    from combtf.swap import frames as frames_module

    folder = tmp_path / "plates"
    folder.mkdir()
    rng = np.random.default_rng(6)
    for number in (11, 12, 13):
        write_raw(folder / f"plate_{number}.tif", np.round(_smooth(rng, 1.0) * 65535).astype(np.uint16), "uint16")

    class Finder:
        def __init__(self, options: ExtractOptions) -> None:
            pass

        def __call__(self, frame: int, rgb: np.ndarray) -> list[Observation]:
            return [_face(frame)]

        def follow(self, frame: int, rgb: np.ndarray, previous: list[Observation]) -> list[Observation]:
            return [_face(frame)]

    original = frames_module.FaceFinder
    frames_module.FaceFinder = Finder
    try:
        summary = frames_module.swap_frames(Invert(), "a", "b", [find(str(folder / "plate_%02d.tif"))], tmp_path / "out",
                                            BlendOptions(), extract=ExtractOptions(every=1), layers=True)  # fmt: skip
    finally:
        frames_module.FaceFinder = original
    assert summary.frames == 3 and summary.faces == 3 and list(summary.flicker.values())[0] is not None
    assert sorted(p.name for p in (tmp_path / "out").glob("*.tif")) == ["plate_11.tif", "plate_12.tif", "plate_13.tif"]
    assert sorted(p.name for p in (tmp_path / "out" / "face").glob("*.tif")) == ["plate_11.tif", "plate_12.tif", "plate_13.tif"]
    face = read_plate(tmp_path / "out" / "face" / "plate_12.tif")
    assert face.pixels.dtype == np.uint16 and face.channels == ["R", "G", "B", "A"]
