"""Faces linked across frames, their landmarks smoothed without lag."""
from __future__ import annotations

import numpy as np

from combtf.faces.template import MEAN_SHAPE
from combtf.faces.track import Observation, Tracker


def test_link_and_smooth_a_noisy_track() -> None:
    rng = np.random.default_rng(1)
    truth = MEAN_SHAPE * 100 + 50
    frames = []
    for t in range(30):
        drift = np.array([t * 0.5, 0.0])  # a slow pan, which smoothing must not lag
        frames.append([
            Observation(t, np.array([40 + t * 0.5, 40, 160 + t * 0.5, 160]), 1.0, truth + drift + rng.normal(0, 1.0, truth.shape)),
            Observation(t, np.array([400, 40, 520, 160]), 1.0, truth + [360, 0]),
        ])  # fmt: skip
    frames[20] = frames[20][:1]  # the second face leaves for 5 frames ...
    for t in range(21, 26):
        frames[t] = frames[t][:1]
    tracker, held, smoothed = Tracker(max_gap=2, sigma=2.0), [], []
    for t, observations in enumerate(frames):  # one pass, as a shot is read
        tracker.add(observations)
        held.append(observations)
        while held and tracker.ready(held[0][0].frame, t):
            tracker.smooth(held[0])
            smoothed.append(held.pop(0))
        assert len(held) <= 7  # never more than the smoothing's reach (3 sigma) is waiting
    for observations in held:
        tracker.smooth(observations)
    assert tracker.tracks == 3  # ... and comes back as a new track
    first = [f[0] for f in frames]
    assert {o.track for o in first} == {0} and frames[0][1].track == 1 and frames[29][1].track == 2
    assert all(o.aligned is not None for f in frames for o in f)
    error_raw = [np.abs(o.landmarks - truth - [o.frame * 0.5, 0]).mean() for o in first[5:-5]]
    error_smooth = [np.abs(o.aligned - truth - [o.frame * 0.5, 0]).mean() for o in first[5:-5]]
    assert np.mean(error_smooth) < 0.5 * np.mean(error_raw)


def test_smoothing_off_keeps_each_frames_landmarks_and_waits_for_nothing() -> None:
    tracker = Tracker(max_gap=1, sigma=0.0)
    obs = Observation(5, np.array([0.0, 0, 10, 10]), 1.0, MEAN_SHAPE * 10)
    tracker.add([obs])
    assert tracker.ready(5, 5)
    tracker.smooth([obs])
    assert obs.aligned is obs.landmarks
