import numpy as np
import pytest

from combtf.faces.align import apply, crop_affine, warp
from combtf.faces.template import template
from combtf.faces.whole_face import (
    DFL_FITTED,
    DFL_UNIT_FACE,
    FACEFUSION_WHOLE_FACE,
    deepfacelive_affine,
    dfl_whole_face_affine,
    facefusion_affine,
    landmarks5,
)


def placed(unit: np.ndarray, scale: float = 180.0, angle: float = 0.3, shift: tuple[float, float] = (300.0, 200.0)) -> np.ndarray:
    """Unit-face points as a face in a frame: scaled, turned and moved."""
    c, s = np.cos(angle), np.sin(angle)
    return unit @ (scale * np.array([[c, s], [-s, c]])) + np.asarray(shift)


def unit_face68() -> np.ndarray:
    """68 points whose DeepFaceLab subset is exactly its unit face (the others: anywhere)."""
    points = np.full((68, 2), 0.5)
    points[DFL_FITTED] = DFL_UNIT_FACE
    return points


@pytest.mark.parametrize("size", [64, 224])
def test_dfl_whole_face_frames_the_unit_face_as_deepfacelab_does(size: int) -> None:
    # DeepFaceLab's get_transform_mat, worked by hand for its own mean face: the crop is a square of side
    # 2 (padding sqrt 2 + 0.5) unit squares around the unit centre (its half-diagonal is the unit diagonal
    # times padding sqrt 2 + 0.5), moved up by 0.07
    side = 2 * (0.40 * np.sqrt(2) + 0.5)
    origin = np.array([0.5, 0.5 - 0.07]) - side / 2
    unit = unit_face68()
    got = apply(dfl_whole_face_affine(placed(unit), size), placed(unit)[DFL_FITTED])
    np.testing.assert_allclose(got, (DFL_UNIT_FACE - origin) / side * size, atol=1e-6 * size)


@pytest.mark.parametrize("coverage, y_offset", [(2.2, 0.0), (1.6, 0.05)])
def test_deepfacelive_cut_follows_its_coverage_and_offset(coverage: float, y_offset: float) -> None:
    # calc_cut: half-diagonal = |corner - centre| * coverage, so the side is `coverage` unit squares;
    # the centre moves by (y_offset - 0.08) of the unit square's height
    origin = np.array([0.5, 0.5 + y_offset - 0.08]) - coverage / 2
    unit = unit_face68()
    got = apply(deepfacelive_affine(placed(unit), 100, coverage, y_offset=y_offset), placed(unit)[DFL_FITTED])
    np.testing.assert_allclose(got, (DFL_UNIT_FACE - origin) / coverage * 100, atol=1e-6 * 100)


def test_facefusion_puts_the_five_points_on_its_template() -> None:
    face = placed(template(1.0), scale=300.0)
    five = landmarks5(face)
    np.testing.assert_allclose(five[0], face[36:42].mean(0))
    moved = apply(facefusion_affine(face, 128), five)
    # a similarity cannot hit five points exactly: within a few per cent of the crop, and centred
    assert np.abs(moved - FACEFUSION_WHOLE_FACE * 128).max() < 0.04 * 128
    np.testing.assert_allclose(moved.mean(0), FACEFUSION_WHOLE_FACE.mean(0) * 128, atol=1e-6)


def test_a_whole_face_crop_resampled_to_the_template_is_combtfs_own_crop() -> None:
    # the chain a DFM runs: frame -> FaceFusion's crop -> (fixed resample) -> combtf's crop, against frame -> combtf's crop
    from scipy import ndimage

    from combtf.swap.onnx_export import dfm_layout
    from combtf.swap.resample import resample

    size = 64
    noise = np.random.default_rng(0).random((200, 200, 3))
    frame = (ndimage.gaussian_filter(noise, (4, 4, 0)) * 255 * 8 - 127 * 7).clip(0, 255).astype(np.uint8)  # smooth, full range
    face = placed(template(1.0), scale=150.0, angle=0.1, shift=(40.0, 30.0))
    whole = warp(frame, facefusion_affine(face, size), (size, size)).astype(np.float32) / 255
    direct = warp(frame, crop_affine(face, size), (size, size)).astype(np.float32) / 255
    through = resample(whole[None], dfm_layout(size).to_crop).numpy()[0]
    inner = slice(8, 56)  # the combtf crop's rim lies just past the whole-face crop's edge
    assert np.abs(through[inner, inner] - direct[inner, inner]).mean() < 0.01
    assert np.abs(np.roll(direct, 2, 1)[inner, inner] - direct[inner, inner]).mean() > 0.03  # two pixels off would show
