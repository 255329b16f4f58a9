"""How good a trained comb is: swaps against synthetic ground truth, real swaps judged, the latent space and its coverage."""
