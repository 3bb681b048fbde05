"""Test-only helpers: models with controlled behaviour, media builders."""
