"""Tests for the synthetic face data set: it must separate identity from performance,
because swap scoring relies on the same performance rendered as another identity."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from combtf.data.synthetic import (
    NAMES,
    Performance,
    make_identities,
    render,
    sample_performance,
    write_demo_data,
)

SIZE = 64
NEUTRAL = Performance(
    dx=0.0, dy=0.0, roll=0.0, scale=1.0, mouth_open=0.0, eye_open=1.0, light_angle=0.0, light_strength=0.0
)


def _with(perf: Performance, **changes: float) -> Performance:
    return Performance(**{**perf.__dict__, **changes})


def _centroid(mask: np.ndarray) -> np.ndarray:
    w = mask.astype(np.float64)
    ys, xs = np.indices(mask.shape)
    return np.array([(w * ys).sum(), (w * xs).sum()]) / w.sum()


def _region(img: np.ndarray, rows: tuple[float, float], cols: tuple[float, float]) -> np.ndarray:
    n = img.shape[0]
    return img[int(rows[0] * n) : int(rows[1] * n), int(cols[0] * n) : int(cols[1] * n)].astype(np.int16)


# Fractions of the crop around the mouth and the eyes of an unposed face.
MOUTH = ((0.60, 0.78), (0.36, 0.64))
EYES = ((0.42, 0.56), (0.25, 0.75))


def test_render_shapes_and_mask() -> None:
    rgb, mask = render(make_identities(2)[0], NEUTRAL, SIZE)
    assert rgb.shape == (SIZE, SIZE, 3) and rgb.dtype == np.uint8
    assert mask.shape == (SIZE, SIZE) and mask.dtype == np.uint8
    assert mask[SIZE // 2, SIZE // 2] > 240
    assert max(mask[0, 0], mask[0, -1], mask[-1, 0], mask[-1, -1]) < 3
    assert rgb.reshape(-1, 3).min(axis=0).max() > 0  # background is not black
    # The edge is feathered, not a hard cut.
    assert np.count_nonzero((mask > 10) & (mask < 245)) > SIZE


def test_identities_differ_inside_face() -> None:
    a, b = make_identities(2)
    rgb_a, mask_a = render(a, NEUTRAL, SIZE)
    rgb_b, _ = render(b, NEUTRAL, SIZE)
    face = mask_a > 200
    diff = np.abs(rgb_a.astype(np.int16) - rgb_b.astype(np.int16))[face]
    assert diff.mean() > 15


def test_expression_changes_only_its_region() -> None:
    who = make_identities(2)[0]
    closed, _ = render(who, NEUTRAL, SIZE)
    open_mouth, _ = render(who, _with(NEUTRAL, mouth_open=1.0), SIZE)
    shut_eyes, _ = render(who, _with(NEUTRAL, eye_open=0.0), SIZE)
    assert np.abs(_region(open_mouth, *MOUTH) - _region(closed, *MOUTH)).mean() > 10
    assert np.array_equal(_region(open_mouth, *EYES), _region(closed, *EYES))
    assert np.abs(_region(shut_eyes, *EYES) - _region(closed, *EYES)).mean() > 5
    assert np.array_equal(_region(shut_eyes, *MOUTH), _region(closed, *MOUTH))


def test_pose_comes_from_performance_only() -> None:
    a, b = make_identities(2)
    perf = _with(NEUTRAL, roll=0.2, dy=0.03)
    ca = _centroid(render(a, perf, SIZE)[1])
    cb = _centroid(render(b, perf, SIZE)[1])
    assert np.abs(ca - cb).max() < 0.5
    moved = _centroid(render(a, _with(perf, dx=0.05), SIZE)[1])
    assert moved[1] - ca[1] == pytest.approx(0.05 * SIZE, abs=0.5)
    assert moved[0] == pytest.approx(ca[0], abs=0.5)


def test_make_identities_distinct_and_validated() -> None:
    people = make_identities(8, seed=3)
    assert [p.name for p in people] == list(NAMES)
    assert len({p.skin for p in people}) == 8 and len({p.hair for p in people}) == 8
    assert make_identities(3, seed=3) == people[:3]
    assert make_identities(3, seed=4) != people[:3]
    for bad in (1, 9):
        with pytest.raises(ValueError):
            make_identities(bad)


def test_sample_performance_ranges() -> None:
    rng = np.random.default_rng(0)
    perfs = [sample_performance(rng) for _ in range(300)]
    for p in perfs:
        assert abs(p.dx) <= 0.06 and abs(p.dy) <= 0.06 and abs(p.roll) <= 0.25
        assert 0.9 <= p.scale <= 1.1 and 0 <= p.mouth_open <= 1 and 0 <= p.eye_open <= 1
        assert 0 <= p.light_strength <= 0.35
    assert any(p.eye_open < 0.2 for p in perfs) and any(p.mouth_open > 0.8 for p in perfs)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_write_demo_data(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    counted: list[int] = []
    summary = write_demo_data(
        out, identities=2, images=3, eval_images=2, size=32, seed=7, progress=counted.append
    )
    assert summary == {
        "identities": ["ada", "ben"],
        "train_per_identity": 3,
        "eval_per_identity": 2,
        "size": 32,
        "path": str(out),
    }
    assert sum(counted) == 2 * (3 + 2)
    assert (out / "README.txt").read_text().strip()
    for name in ("ada", "ben"):
        for i in range(3):
            img = Image.open(out / "train" / name / f"{name}_{i:04d}.png")
            mask = Image.open(out / "train" / name / "masks" / f"{name}_{i:04d}.png")
            assert (img.size, img.mode, mask.size, mask.mode) == ((32, 32), "RGB", (32, 32), "L")
    eval_stems = [sorted(p.name for p in (out / "eval" / n).glob("*.png")) for n in ("ada", "ben")]
    assert eval_stems[0] == eval_stems[1] == ["eval_0000.png", "eval_0001.png"]
    for stem in eval_stems[0]:
        assert (out / "eval" / "ada" / "masks" / stem).is_file()
    # Training performances are drawn per identity: ada's and ben's masks (pose only) differ.
    train_masks = [(out / f"train/{n}/masks/{n}_0000.png").read_bytes() for n in ("ada", "ben")]
    assert train_masks[0] != train_masks[1]
    # Eval performances are shared: the masks of the two identities nearly coincide.
    ma = np.asarray(Image.open(out / "eval/ada/masks/eval_0000.png"), np.float64)
    mb = np.asarray(Image.open(out / "eval/ben/masks/eval_0000.png"), np.float64)
    assert np.abs(_centroid(ma) - _centroid(mb)).max() < 0.5

    with pytest.raises(FileExistsError, match="demo"):
        write_demo_data(out, identities=2, images=3, eval_images=2, size=32, seed=7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]  # no temp folder left

    again = tmp_path / "again"
    again.mkdir()  # an existing empty folder is fine
    write_demo_data(again, identities=2, images=3, eval_images=2, size=32, seed=7)
    assert _files(again) == _files(out)


def test_write_demo_data_interrupted_leaves_nothing(tmp_path: Path) -> None:
    def boom(_: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_demo_data(tmp_path / "demo", identities=2, images=3, eval_images=2, size=32, progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_closed_mouth_identities_and_performance_table(tmp_path: Path) -> None:
    write_demo_data(tmp_path / "set", identities=2, images=40, eval_images=1, size=16, seed=3, closed_mouth=("ben",))
    tables = {}
    for name in ("ada", "ben"):
        lines = (tmp_path / "set" / "train" / name / "performances.csv").read_text().splitlines()
        header = lines[0].split(",")
        assert header[0] == "stem" and "mouth_open" in header and len(lines) == 41
        tables[name] = np.array([float(line.split(",")[header.index("mouth_open")]) for line in lines[1:]])
    assert tables["ben"].max() <= 0.1 and tables["ada"].max() > 0.5
    with pytest.raises(ValueError, match="zed"):
        write_demo_data(tmp_path / "other", identities=2, images=1, eval_images=1, size=16, closed_mouth=("zed",))


def test_head_turns_read_back_from_the_landmarks_the_renderer_draws() -> None:
    """`landmarks` puts the 68 points where `render` draws the features, so a landmark reading of
    yaw, mouth and each eye follows the performance, whoever plays it (a true swap stays true)."""
    from combtf.data.synthetic import MAX_YAW, landmarks
    from combtf.faces.expression import head_pose, lid_gap, mouth_opening
    from combtf.faces.template import LEFT_EYE, RIGHT_EYE

    people = make_identities(4, varied=True)
    rng = np.random.default_rng(1)
    truth, read = [], []
    for i in range(60):
        perf = sample_performance(rng, turns=True)
        points = landmarks(people[i % 4], perf, SIZE)
        truth.append((perf.yaw, perf.mouth_open, perf.eye_open, perf.left_eye))
        read.append((head_pose(points)[0], mouth_opening(points, SIZE), lid_gap(points, RIGHT_EYE), lid_gap(points, LEFT_EYE)))
    truth, read = np.array(truth), np.array(read)
    assert np.abs(truth[:, 0]).max() > 0.8 * MAX_YAW and np.mean(truth[:, 2] != truth[:, 3]) > 0.5  # turns, eyes on their own
    for k in range(4):
        assert np.corrcoef(truth[:, k], read[:, k])[0, 1] > 0.9, k
    rgb, _ = render(people[0], _with(NEUTRAL, mouth_open=1.0, eye_open=1.0, eye_open_left=0.0, yaw=0.5), SIZE)
    points = landmarks(people[0], _with(NEUTRAL, mouth_open=1.0, eye_open=1.0, eye_open_left=0.0, yaw=0.5), SIZE)
    x, y = np.round(points[60:68].mean(0)).astype(int)
    assert rgb[y, x].mean() < 110  # the open mouth's inside is where its inner-lip points are
    right, left = (np.round(points[eye].mean(0)).astype(int) for eye in (RIGHT_EYE, LEFT_EYE))
    assert rgb[right[1], right[0]].mean() < rgb[left[1], left[0]].mean()  # an open eye shows its iris, a shut one its lid


def test_turns_frontal_and_sidecars(tmp_path: Path) -> None:
    import csv
    import json

    write_demo_data(tmp_path / "set", identities=2, images=60, eval_images=1, size=16, seed=3, turns=True, frontal=("ben",))
    for name, widest in (("ada", 30.0), ("ben", 10.0)):
        rows = list(csv.DictReader((tmp_path / "set" / "train" / name / "performances.csv").read_text().splitlines()))
        yaw = np.degrees([abs(float(r["yaw"])) for r in rows])
        assert (yaw.max() > widest) if name == "ada" else (yaw.max() <= widest + 1e-3), (name, yaw.max())
        sidecar = json.loads((tmp_path / "set" / "train" / name / f"{name}_0000.json").read_text())
        assert np.array(sidecar["crop_landmarks"]).shape == (68, 2) and sidecar["crop_size"] == 16
    with pytest.raises(ValueError, match="frontal needs turns"):
        write_demo_data(tmp_path / "other", identities=2, images=1, eval_images=1, size=16, frontal=("ben",))
