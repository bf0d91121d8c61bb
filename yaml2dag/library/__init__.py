"""The folder of workflows: versions, round-trip editing, drafting, built-in workflow templates."""
