"""Training data: identity folders of aligned crops, their augmentation and sampling, and the synthetic faces."""
