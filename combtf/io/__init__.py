"""The ground floor's files: untrusted images in, atomic writes out, and the note that an output is synthetic."""
