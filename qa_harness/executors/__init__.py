"""Executors: where pairs are evaluated. `local` (this process, the default); more in `catalog.EXECUTORS`."""
