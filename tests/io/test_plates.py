"""Plates through OpenImageIO and colours through OpenColorIO: depth, channels and header kept, bad files named."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest

from combtf.errors import CombtfError
from combtf.io.colour import DEFAULT_CONFIG, LOG, SCENE_LINEAR, WORKING_ROLE, Conversion, default_space, load_config
from combtf.io.plates import is_plate, read_plate, write_plate
from combtf.io.provenance import plate_attributes


def write_raw(path: Path, pixels: np.ndarray, fmt: str, **attributes: object) -> Path:
    """A plate as another tool would write it (straight OpenImageIO, no combtf)."""
    spec = oiio.ImageSpec(pixels.shape[1], pixels.shape[0], pixels.shape[2], fmt)
    for key, value in attributes.items():
        spec.attribute(key, value)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec) and out.write_image(pixels), out.geterror()
    out.close()
    return path


PLATES = {  # name: (stored type, OpenImageIO format, attributes)
    "half.exr": (np.float16, "half", {"compression": "zip", "Owner": "plate dept"}),
    "float.exr": (np.float32, "float", {"Owner": "plate dept"}),
    "deep16.tif": (np.uint16, "uint16", {"Artist": "plate dept"}),
    "ten.dpx": (np.uint16, "uint16", {"oiio:BitsPerSample": 10, "dpx:Transfer": "Logarithmic"}),
    "sixteen.png": (np.uint16, "uint16", {}),
}


def _pixels(dtype: type, shape: tuple[int, int, int], rng: np.random.Generator) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        values = rng.uniform(0, 1, shape)
        values[:3, :3] = 7.5  # a highlight far above 1
        return values.astype(dtype)
    return rng.integers(0, 65536, shape).astype(dtype)


@pytest.mark.parametrize("name", sorted(PLATES))
def test_a_plate_comes_back_bit_for_bit_where_untouched_with_its_depth_and_header(name: str, tmp_path: Path) -> None:
    dtype, fmt, attributes = PLATES[name]
    rng = np.random.default_rng(0)
    source = write_raw(tmp_path / name, _pixels(dtype, (12, 16, 3), rng), fmt, **attributes)
    plate = read_plate(source)
    assert is_plate(source) and plate.pixels.dtype == dtype and plate.channels == ["R", "G", "B"]
    where = np.zeros((12, 16), bool)
    where[4:8, 6:10] = True
    rgb = plate.rgb()
    write_plate(tmp_path / "out" / name, plate, plate.with_rgb(rgb * 0.5, where), plate_attributes("run", source.suffix))
    again = read_plate(tmp_path / "out" / name)
    assert again.pixels.dtype == dtype and again.channels == plate.channels
    assert np.array_equal(again.pixels[~where], plate.pixels[~where])  # floats above 1 included
    assert not np.array_equal(again.pixels[where], plate.pixels[where])
    assert np.abs(again.rgb()[where] - rgb[where] * 0.5).max() < (2e-3 if dtype == np.float16 else 1.5 / 1023)
    for key, value in attributes.items():
        assert again.spec.getattribute(key) == value, key  # the input's header travels
    description = again.spec.get_string_attribute("ImageDescription")
    assert description.startswith("synthetic"), description
    if source.suffix in (".exr", ".png"):
        assert again.spec.get_string_attribute("Synthetic") == "true"
        assert again.spec.get_string_attribute("DigitalSourceType").endswith("trainedAlgorithmicMedia")
    assert not list((tmp_path / "out").glob(".*"))  # no partial file left behind


def test_extra_channels_keep_their_names_and_types(tmp_path: Path) -> None:
    spec = oiio.ImageSpec(8, 6, 5, "half")
    spec.channelnames = ["R", "G", "B", "A", "Z"]
    spec.channelformats = [oiio.TypeDesc("half")] * 4 + [oiio.TypeDesc("float")]
    out = oiio.ImageOutput.create(str(tmp_path / "z.exr"))
    values = np.random.default_rng(1).uniform(0, 100, (6, 8, 5)).astype(np.float32)
    out.open(str(tmp_path / "z.exr"), spec)
    out.write_image(values)
    out.close()
    plate = read_plate(tmp_path / "z.exr")
    write_plate(tmp_path / "o.exr", plate, plate.with_rgb(plate.rgb(), np.zeros((6, 8), bool)), {})
    again = read_plate(tmp_path / "o.exr")
    assert again.channels == ["R", "G", "B", "A", "Z"]
    assert [str(f) for f in again.spec.channelformats] == ["half"] * 4 + ["float"]
    assert np.array_equal(again.pixels, plate.pixels)


@pytest.mark.parametrize("content", [b"", b"v/1\x01" + b"\0" * 60, b"SDPX" + b"\xff" * 2000, b"II*\0" + b"\x07" * 100])
def test_broken_plates_are_one_line_errors_naming_the_file(content: bytes, tmp_path: Path) -> None:
    for suffix in (".exr", ".dpx", ".tif"):
        path = tmp_path / f"bad{suffix}"
        path.write_bytes(content)
        with pytest.raises(CombtfError, match=str(path)) as caught:
            read_plate(path)
        assert "\n" not in str(caught.value)


def test_a_plate_claiming_too_many_pixels_is_refused_before_decoding(tmp_path: Path) -> None:
    path = write_raw(tmp_path / "tall.exr", np.zeros((1, 1, 3), np.float16), "half")
    spec = oiio.ImageSpec(60000, 1000, 3, "half")  # 60 MP: above the limit, written as a header with tiny tiles
    spec.tile_width = spec.tile_height = 64
    out = oiio.ImageOutput.create(str(path))
    out.open(str(path), spec)
    out.close()
    with pytest.raises(CombtfError, match="pixel"):
        read_plate(path)


def test_ocio_conversion_and_its_inverse_agree_on_in_gamut_values() -> None:
    rng = np.random.default_rng(2)
    srgb = rng.uniform(0, 1, (64, 64, 3)).astype(np.float32)
    for space in (SCENE_LINEAR, LOG, "Linear Rec.709 (sRGB)"):
        conversion = Conversion(DEFAULT_CONFIG, space)
        plate = conversion.to_plate(srgb)
        assert not np.allclose(plate, srgb, atol=1e-3)
        assert np.abs(conversion.to_working(plate) - srgb).max() < 1e-4, space
        eight = conversion.to_working_uint8(plate.astype(np.float32))  # OCIO's own bit-depth path
        assert np.abs(eight.astype(int) - np.round(np.clip(srgb, 0, 1) * 255)).max() <= 1
    assert Conversion(DEFAULT_CONFIG, WORKING_ROLE).identity
    linear = Conversion(DEFAULT_CONFIG, SCENE_LINEAR)
    highlight = linear.to_working(np.full((1, 1, 3), 8.0, np.float32))
    assert highlight.min() > 1.0  # above 1 in, above 1 out: the clip happens only for the model


def test_default_spaces_follow_the_plate() -> None:
    assert default_space(True, None) == SCENE_LINEAR
    assert default_space(False, "Logarithmic") == LOG
    assert default_space(False, "Undefined") == default_space(False, None) == WORKING_ROLE


def test_bad_configs_and_spaces_are_one_line_errors(tmp_path: Path) -> None:
    bad = tmp_path / "studio.ocio"
    bad.write_text("ocio_profile_version: 2\nroles: [not: a: mapping\n")
    with pytest.raises(CombtfError, match="studio.ocio: not a usable OCIO config"):
        load_config(str(bad))
    with pytest.raises(CombtfError, match="not found"):
        load_config(str(tmp_path / "missing.ocio"))
    with pytest.raises(CombtfError, match="--colorspace Rec.709 Gamma 9"):
        Conversion(DEFAULT_CONFIG, "Rec.709 Gamma 9")
