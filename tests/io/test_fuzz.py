"""Random bytes into every reader of untrusted files: a CombtfError naming the file, or a value; never a crash."""
from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from combtf.config import TrainConfig, load_config
from combtf.errors import CombtfError
from combtf.faces import dfl
from combtf.io.images import read_image
from tests.helpers import bomb_png, png_bytes

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _read_or_named_error(reader: Callable[[Path], object], path: Path, data: bytes) -> object | None:
    """What `reader` makes of `data` in a file, or None after a CombtfError that starts with the file's name."""
    path.write_bytes(data)
    try:
        return reader(path)
    except CombtfError as exc:
        assert str(exc).startswith(f"{path}: "), str(exc)
        return None


def _mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, and a valid file with bytes flipped, cut or appended (gets past magic numbers)."""
    edits = st.lists(st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255)), max_size=8)
    flipped = edits.map(lambda changes: bytes(dict(changes).get(i, b) for i, b in enumerate(seed)))
    cut = st.integers(0, len(seed)).map(lambda n: seed[:n])
    return st.one_of(st.binary(max_size=2048), flipped, cut, st.binary(max_size=64).map(lambda tail: seed + tail))


@FUZZ
@given(data=_mutated(png_bytes()))
def test_image_reader(tmp_path: Path, data: bytes) -> None:
    read = _read_or_named_error(read_image, tmp_path / "x.png", data)
    if read is None:
        return
    rgb, alpha = read
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3
    assert alpha is None or alpha.shape == rgb.shape[:2]


@FUZZ
@given(text=st.one_of(st.text(max_size=300), st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
                      st.sampled_from(["lr: !!python/object/apply:os.system ['true']", "width: [1, 2]", "nope: 1", "lr: .nan"])))  # fmt: skip
def test_config_reader(tmp_path: Path, text: str) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    try:
        config = load_config(path)
    except CombtfError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(config, TrainConfig)


def _dfl_seed() -> bytes:
    payload = pickle.dumps({"landmarks": np.zeros((68, 2)), "face_type": "whole_face", "source_rect": (1, 2, 3, 4)})
    jpeg = io.BytesIO()
    Image.new("RGB", (8, 8)).save(jpeg, format="JPEG")
    data = jpeg.getvalue()
    return data[:2] + b"\xff\xef" + (len(payload) + 2).to_bytes(2, "big") + payload + data[2:]


@FUZZ
@given(data=_mutated(_dfl_seed()))
def test_dfl_metadata_reader(tmp_path: Path, data: bytes) -> None:
    meta = _read_or_named_error(dfl.load_metadata, tmp_path / "00001_0.jpg", data)
    assert meta is None or isinstance(meta, dict)


@FUZZ
@given(name=st.text(max_size=120))
def test_names_never_leave_the_output_folder(tmp_path: Path, name: str) -> None:
    """Identity names and source stems from untrusted files: `../`, absolute paths, odd Unicode."""
    from combtf.faces.crops import check_identity, safe_name

    out = tmp_path.resolve()
    assert (out / safe_name(name)).resolve().parent == out
    try:
        check_identity(name)
    except CombtfError:
        return
    assert (out / name).resolve().parent == out and "/" not in name and not name.startswith(".")


def test_bomb_and_odd_modes(tmp_path: Path) -> None:
    """A header claiming 30000 x 30000 px is refused before decoding; CMYK, 16-bit, palette, grey read as RGB."""
    bomb = bomb_png(tmp_path / "bomb.png")
    try:
        read_image(bomb)
        raise AssertionError("a 900 Mpx claim was decoded")
    except CombtfError as exc:
        assert str(exc).startswith(f"{bomb}: ") and "pixel limit" in str(exc)
    base = Image.fromarray(np.arange(300, dtype=np.uint8).reshape(10, 10, 3))
    for name, image in (("cmyk.jpg", base.convert("CMYK")), ("grey.png", base.convert("L")), ("palette.png", base.convert("P")),
                        ("deep.png", Image.fromarray(np.arange(100, dtype=np.uint16).reshape(10, 10) * 600))):  # fmt: skip
        image.save(tmp_path / name)
        rgb, _ = read_image(tmp_path / name)
        assert rgb.shape == (10, 10, 3) and rgb.dtype == np.uint8, name


def _plate_bytes(suffix: str, fmt: str) -> bytes:
    """A small valid plate of this format, as the seed of mutations."""
    import tempfile

    import OpenImageIO as oiio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"seed{suffix}"
        spec = oiio.ImageSpec(6, 4, 3, fmt)
        out = oiio.ImageOutput.create(str(path))
        out.open(str(path), spec)
        out.write_image(np.linspace(0, 1, 72, dtype=np.float32).reshape(4, 6, 3))
        out.close()
        return path.read_bytes()


@FUZZ
@given(data=st.one_of(_mutated(_plate_bytes(".exr", "half")), _mutated(_plate_bytes(".dpx", "uint16")), _mutated(_plate_bytes(".tif", "uint16"))))
def test_plate_reader(tmp_path: Path, data: bytes) -> None:
    from combtf.io.plates import read_plate

    for suffix in (".exr", ".dpx", ".tif"):
        plate = _read_or_named_error(read_plate, tmp_path / f"x{suffix}", data)
        if plate is not None:
            assert plate.pixels.ndim == 3 and plate.pixels.shape[:2] == (plate.spec.height, plate.spec.width)
            assert plate.rgb().shape == (*plate.pixels.shape[:2], 3)
