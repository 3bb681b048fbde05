"""Facial landmark backends: every backend returns the 68-point iBUG layout, a found flag and a confidence."""
