"""Run configs: option checks, YAML round trips, hostile YAML, the shipped configs."""
from pathlib import Path

import pytest

from combtf.config import TrainConfig, load_config, save_config
from combtf.errors import CombtfError


@pytest.mark.parametrize("amount", [0.0, 0.5, -0.1])
def test_warp_amount_keeps_grid_points_apart(amount: float) -> None:
    with pytest.raises(CombtfError, match="warp_amount must be in"):
        TrainConfig(warp_amount=amount).validate()


@pytest.mark.parametrize("amount", [0.0, -0.5, 4.5])
def test_affine_amount_out_of_range_names_the_option(amount: float) -> None:
    with pytest.raises(CombtfError, match="affine_amount must be in"):
        TrainConfig(affine_amount=amount).validate()


def test_negative_swap_cycle_weight_names_the_option() -> None:
    with pytest.raises(CombtfError, match="swap_cycle_weight must be >= 0"):
        TrainConfig(swap_cycle_weight=-1.0).validate()


def test_yaml_round_trip(tmp_path: Path) -> None:
    config = TrainConfig(data="d", width=0.25, min_score=0.9, identities=["a", "b"], warp=False)
    save_config(config, tmp_path / "run.yaml")
    assert load_config(tmp_path / "run.yaml") == config


@pytest.mark.parametrize(
    "text, message",
    [
        ("widht: 0.5\n", "unknown option 'widht'"),
        ("width: wide\n", "option 'width' must be a number"),
        ("batch_size: 2.5\n", "option 'batch_size' must be an integer"),
        ("warp: 1\n", "option 'warp' must be true or false"),
        ("final_images: 1.5\n", "option 'final_images' must be an integer or null"),
        ("min_score: yes\n", "option 'min_score' must be a number or null"),
        ("- a\n- b\n", "must be a mapping"),
        ("width: [\n", "not valid YAML"),
    ],
)
def test_bad_yaml_is_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(CombtfError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_yaml_tags_never_construct_objects(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f"data: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(CombtfError, match="not valid YAML"):
        load_config(path)
    assert not marker.exists()


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    config = load_config(path).validate()
    assert config.identities == [] and config.out is None  # a shipped config names no user's folders


@pytest.mark.parametrize("strength", [-0.1, 1.5])
def test_latent_match_out_of_range_names_the_option(strength: float) -> None:
    with pytest.raises(CombtfError, match="latent_match must be in"):
        TrainConfig(latent_match=strength).validate()
