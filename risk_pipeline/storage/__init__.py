"""The Parquet lake (one file per table and day) and the DuckDB catalog of views over it."""
