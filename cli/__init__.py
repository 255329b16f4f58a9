"""Thin click commands over the combtf library."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's C++ banner out of the user's terminal
