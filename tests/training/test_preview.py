import numpy as np

from combtf.model.network import Architecture, CombModel
from combtf.training.preview import grid


def test_a_mirror_averaged_preview_averages_each_drawn_cell_with_its_mirror_images_draw() -> None:
    model = CombModel(Architecture(identities=("a", "b"), max_level=1, width=1 / 32, latent_dim=8))
    rng = np.random.default_rng(0)
    samples = {name: rng.integers(0, 256, (2, 8, 8, 3), dtype=np.uint8) for name in ("a", "b")}
    mirrored = {name: images[:, :, ::-1] for name, images in samples.items()}
    cell = 64  # 8 px cells enlarged to MIN_CELL

    def cells(sheet: np.ndarray) -> np.ndarray:
        """[row, column, 8, 8, 3] from the enlarged sheet."""
        small = sheet[::8, ::8].astype(np.float64)
        return small.reshape(small.shape[0] // 8, 8, small.shape[1] // 8, 8, 3).transpose(0, 2, 1, 3, 4)

    plain = cells(grid(model, 1, 1.0, samples))
    flipped = cells(grid(model, 1, 1.0, mirrored))
    averaged_sheet = grid(model, 1, 1.0, samples, mirror=True)
    averaged = cells(averaged_sheet)
    assert averaged_sheet.shape == (4 * cell, 3 * cell, 3)
    np.testing.assert_array_equal(averaged[:, 0], plain[:, 0])  # the inputs are shown as they are
    expected = (plain[:, 1:] + flipped[:, 1:, :, ::-1]) / 2  # reconstruction and swap columns
    assert np.abs(averaged[:, 1:] - expected).max() <= 1.0  # each sheet is rounded to uint8 once
    assert np.abs(averaged[:, 1:] - plain[:, 1:]).max() > 2.0  # a random model's halves differ
