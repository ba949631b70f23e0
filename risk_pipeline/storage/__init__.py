"""The Delta lake (one Delta table per table), the DuckDB catalog of views over it, maintenance and schemas."""
