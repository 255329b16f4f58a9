"""Real faces in: detection, 68-point landmarks, alignment to one template, masks, video, DFL import."""
