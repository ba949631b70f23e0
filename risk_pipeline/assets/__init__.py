"""Thin Dagster assets: read inputs from the lake, call the core, write through storage."""
