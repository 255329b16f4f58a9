"""combtf: multi-identity face-swap autoencoders (one encoder, many decoders) in TensorFlow/Keras."""

__version__ = "0.1.0"
