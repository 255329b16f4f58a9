from combtf.config import TrainConfig
from combtf.training import schedule


def test_plan_fades_every_level_after_the_first() -> None:
    phases = schedule.plan(TrainConfig(start_resolution=4, max_resolution=32, images_per_level=160, batch_size=8))
    assert [(p.level, p.fade) for p in phases] == [(0, False), (1, True), (1, False), (2, True), (2, False), (3, True), (3, False)]
    assert phases[0].steps == 20 and all(p.steps == 10 for p in phases[1:])


def test_no_progressive_trains_the_final_level_alone() -> None:
    phases = schedule.plan(TrainConfig(max_resolution=32, progressive=False, images_per_level=160, batch_size=8))
    assert [(p.level, p.fade) for p in phases] == [(3, False)]


def test_final_images_sets_the_last_stabilise_phase_alone() -> None:
    phases = schedule.plan(TrainConfig(start_resolution=4, max_resolution=16, images_per_level=160, final_images=800, batch_size=8))
    assert [p.steps for p in phases] == [20, 10, 10, 10, 100]
    alone = schedule.plan(TrainConfig(max_resolution=16, progressive=False, final_images=80, batch_size=8), replicas=2)
    assert [(p.level, p.fade, p.steps) for p in alone] == [(2, False, 5)]


def test_alpha_ramps_to_one_during_fade_only() -> None:
    fade, stable = schedule.Phase(2, True, 4), schedule.Phase(2, False, 4)
    assert [schedule.alpha(fade, s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert schedule.alpha(stable, 0) == 1.0


def test_score_gate() -> None:
    config = TrainConfig(min_score=0.9, max_repeats=2)
    stable = schedule.Phase(1, False, 4)
    assert schedule.repeat_level(stable, 0.5, 0, config)
    assert not schedule.repeat_level(stable, 0.5, 2, config)  # bounded
    assert not schedule.repeat_level(stable, 0.95, 0, config)
    assert not schedule.repeat_level(schedule.Phase(1, True, 4), 0.5, 0, config)
    assert not schedule.repeat_level(stable, 0.5, 0, TrainConfig())  # gate off by default
