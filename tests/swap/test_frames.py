"""Full-frame swaps on real footage: geometry of the way back, videos keep length, rate and audio."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from combtf.faces.extract import ExtractOptions, FaceFinder
from combtf.faces.masks import face_mask
from combtf.faces.video import probe
from combtf.swap.blend import BlendOptions
from combtf.swap.frames import NoFaceError, swap_frames
from tests.helpers import TINY, run, write_video


class Echo:
    """A perfect 'decoder' that returns the crop it is given: the frame must come back as it was."""

    run = Path("echo")
    can_match = False
    resolution = 256

    def swap(self, x: np.ndarray, source: str, target: str, match: bool = True) -> np.ndarray:
        return x


@pytest.fixture(scope="module")
def photo(shared_faces: Path) -> Path:
    return sorted((shared_faces / "photos" / "person_d").glob("*.jpg"))[0]


def test_round_trip_leaves_the_frame_outside_the_face(photo: Path, tmp_path: Path) -> None:
    frame = np.asarray(Image.open(photo).convert("RGB"))
    out_path = tmp_path / "out.png"
    summary = swap_frames(Echo(), "d", "d", [photo], out_path, BlendOptions(how="alpha"))
    assert summary.faces == 1 and summary.written == [out_path]
    out = np.asarray(Image.open(out_path).convert("RGB")).astype(np.float64)
    diff = np.abs(out - frame).mean(axis=-1)
    changed = diff > 0
    assert changed.any() and diff.mean() < 1.0  # below 1/255 on average over the frame
    ys, xs = np.nonzero(changed)
    assert xs.max() - xs.min() < 0.8 * frame.shape[1]  # only the face region was touched
    assert diff[changed].mean() < 6.0  # the echoed face lands where it came from (resampling only)
    assert Image.open(out_path).text["Synthetic"] == "true"


def test_video_keeps_frames_rate_and_audio(shared_faces: Path, tmp_path: Path) -> None:
    import av

    frames = []
    with av.open(str(shared_faces / "videos" / "person_b.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            frames.append(frame.to_ndarray(format="rgb24"))
            if index == 11:
                break
    frames.append(np.zeros_like(frames[0]))  # one frame without a face
    source = tmp_path / "clip.mp4"
    write_video(source, frames, rate=25, audio=True)
    summary = swap_frames(Echo(), "b", "b", [source], tmp_path / "out", BlendOptions())
    out = tmp_path / "out" / "clip.mp4"
    assert summary.frames == 13 and summary.faces == 12 and summary.frames_without_face == 1
    assert probe(out).rate == Fraction(25)
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 13
        assert len(container.streams.audio) == 1
        assert container.metadata.get("synthetic") == "true" and "combtf" in container.metadata.get("comment", "")
    assert not list((tmp_path / "out").glob(".*partial*"))


def test_cli_swaps_photos_and_a_video_with_its_own_decoder(shared_faces: Path, tmp_path: Path) -> None:
    """extract -> train (tiny) -> swap of full frames, from the command line."""
    for person, name in (("person_b", "b"), ("person_d", "d")):
        photos = sorted((shared_faces / "photos" / person).glob("*.jpg"))[:8]
        assert run("extract", *photos, "--identity", name, "--data", tmp_path / "faces", "--size", "16", "--quiet").exit_code == 0
    result = run("train", "--data", tmp_path / "faces", "--out", tmp_path / "run", *TINY)
    assert result.exit_code == 0, result.output
    clip = tmp_path / "clip.mp4"
    import av

    with av.open(str(shared_faces / "videos" / "person_d.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for _, f in zip(range(6), container.decode(video=0))]
    write_video(clip, frames, rate=30, audio=False)
    result = run("swap", "--model", tmp_path / "run", "--source", "d", "--target", "d", "--input", clip, "--output", tmp_path / "d.mp4")
    assert result.exit_code == 0, result.output
    assert "6 frames, 6 faces swapped, 0 frames without a face" in result.output

    photo = sorted((shared_faces / "photos" / "person_d").glob("*.jpg"))[30]
    result = run("swap", "--model", tmp_path / "run", "--source", "d", "--target", "d", "--input", photo, "--output", tmp_path / "self.png")
    assert result.exit_code == 0, result.output
    frame = np.asarray(Image.open(photo).convert("RGB")).astype(np.float64)
    out = np.asarray(Image.open(tmp_path / "self.png").convert("RGB")).astype(np.float64)
    landmarks = FaceFinder(ExtractOptions())(0, frame.astype(np.uint8))[0].landmarks
    face = face_mask(landmarks, (frame.shape[1], frame.shape[0]), feather=0) > 0
    face = ndimage.binary_dilation(face, iterations=8)  # the mask's feather and the 64 -> frame resampling
    diff = np.abs(out - frame).mean(axis=-1)
    assert diff[~face].mean() < 1.0 and diff[face].mean() > 1.0  # outside the face < 1/255 on average; the face changed
    photo_dir = tmp_path / "photos"
    photo_dir.mkdir()
    for p in sorted((shared_faces / "photos" / "person_b").glob("*.jpg"))[20:22]:
        (photo_dir / p.name).write_bytes(p.read_bytes())
    result = run("swap", "--model", tmp_path / "run", "--source", "d", "--target", "b", "--input", photo_dir, "--output", tmp_path / "out",
                 "--blend", "multiband", "--color", "meanstd")  # fmt: skip
    assert result.exit_code == 0, result.output
    written = sorted((tmp_path / "out").glob("*.png"))
    assert len(written) == 2 and all(Image.open(p).text["Synthetic"] == "true" for p in written)
    assert json.loads(json.dumps(Image.open(written[0]).text))["Description"].startswith("synthetic")


def test_output_names_must_fit_the_input(tmp_path: Path) -> None:
    from combtf.errors import CombtfError
    from combtf.swap.frames import _output_for

    assert _output_for(Path("a/b.jpg"), tmp_path, single=False) == tmp_path / "b.png"
    assert _output_for(Path("a/c.mov"), tmp_path / "x.mp4", single=True) == tmp_path / "x.mp4"
    for source, output in (("b.jpg", "x.jpg"), ("c.mp4", "x.png"), ("b.png", "x.mp4")):
        with pytest.raises(CombtfError, match="--output"):
            _output_for(Path(source), tmp_path / output, single=True)


def test_photos_without_a_face_pass_through_once_any_has_one(photo: Path, tmp_path: Path) -> None:
    """Whether the face-less frame comes before or after the one with a face, both are written."""
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((120, 160, 3), 90, np.uint8)).save(blank)
    for order in ([blank, photo], [photo, blank]):
        out = tmp_path / f"out-{order[0].stem}"
        summary = swap_frames(Echo(), "d", "d", order, out, BlendOptions(how="alpha"))
        assert summary.faces == 1 and summary.frames_without_face == 1
        assert sorted(p.name for p in out.iterdir()) == sorted(["blank.png", f"{photo.stem}.png"])
        np.testing.assert_array_equal(np.asarray(Image.open(out / "blank.png").convert("RGB")), np.asarray(Image.open(blank)))


def test_frames_without_any_face_are_an_error_and_nothing_is_written(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    inputs = []
    for i in range(2):
        inputs.append(tmp_path / f"crop{i}.png")
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), np.uint8)).save(inputs[-1])
    with pytest.raises(NoFaceError, match=r"2 inputs: no face found in any of the 2 frames; nothing written"):
        swap_frames(Echo(), "d", "d", inputs, tmp_path / "out", BlendOptions())
    assert not (tmp_path / "out").exists()
