"""Streaming media decoding: videos, folders of frames and still images -> float RGB tensors."""
