"""Face identity embedding backends: frames in, one embedding per frame out (NaN where no face)."""
