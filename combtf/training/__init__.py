"""Training: the step, the loop over phases, checkpoints and the run folder, the schedule, losses and previews."""
