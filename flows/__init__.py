"""Prefect orchestration and the newsdrop command line."""
