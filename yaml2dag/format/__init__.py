"""The workflow format: a file becomes a model, then a validated model (no Dagster)."""
