"""``python -m risk_pipeline.cli``: the same as the ``risk-pipeline`` command."""

from risk_pipeline.cli import main

raise SystemExit(main())
