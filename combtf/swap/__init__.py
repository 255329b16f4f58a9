"""Swaps: a trained model from its run folder or its export, crops and full frames in, blended faces out, and the exports."""
