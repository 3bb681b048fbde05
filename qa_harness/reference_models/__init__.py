"""Re-implementations of the official face-animation models (MRFA, TPSMM, FOMM, MRAA).

Each sub-package builds its network from the official YAML config unchanged and loads the official
checkpoint unchanged; shared building blocks live here once.
"""
