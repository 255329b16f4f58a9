"""The comb: its levels and blocks, the latent statistics a swap matches, the one swap function, the compute precision."""
