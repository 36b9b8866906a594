"""Measurements: cold start, AWS calls per flow, warm time and package size (`make bench`)."""
