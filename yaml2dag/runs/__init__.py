"""Running compiled workflows and reading their history from Dagster's run storage."""
