"""The level table: resolutions, channel counts, options that name themselves when wrong."""
import pytest

from combtf.config import TrainConfig
from combtf.errors import CombtfError
from combtf.levels import ENCODER_CHANNELS, level_of, resolution, scaled


def test_level_table() -> None:
    assert [resolution(k) for k in range(9)] == [4, 8, 16, 32, 64, 128, 256, 512, 1024]
    assert level_of(64) == 4
    assert ENCODER_CHANNELS[6] == (64, 64, 128)
    # every encoder block's output feeds the next coarser block's input
    assert all(ENCODER_CHANNELS[k][2] == ENCODER_CHANNELS[k - 1][0] for k in range(2, 9))


@pytest.mark.parametrize("res", [0, 3, 48, 100, 2048])
def test_bad_resolution_names_the_option(res: int) -> None:
    with pytest.raises(CombtfError, match=f"max_resolution {res} is not a level resolution"):
        TrainConfig(max_resolution=res).validate()


def test_width_never_below_four_channels() -> None:
    assert scaled(512, 0.125) == 64
    assert scaled(16, 0.01) == 4
