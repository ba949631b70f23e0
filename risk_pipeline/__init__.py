"""risk_pipeline: every process that imports the project (a run, a Dask worker, the CLI, the UI's code
server) first sets NumPy's page policy (:mod:`risk_pipeline.numpy_pages`)."""

from risk_pipeline.numpy_pages import base_pages_unless_set

base_pages_unless_set()
