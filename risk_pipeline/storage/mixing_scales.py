"""Monte Carlo's mixing scales kept as files of the data folder, ``cache/mixing_scales/``.

A day's scales (:func:`risk_pipeline.risk.var.monte_carlo.mixing_scale`: 10,000 inverse incomplete
gamma functions per day of the path and degrees-of-freedom point) depend only on the seed, the
number of scenarios, the day and nu, and on the code and library versions that compute them: a
new day's process, or another worker of the run, loads them from here instead of computing them
again (docs/performance.md). The folder is named by ``MIXING_SCALE_VERSION`` and the versions of
NumPy and SciPy, so a file is never read by a code that would compute other numbers; a file
written whole (renamed into place) is read only as the float64 array of the key's length. Deleting
the folder only costs the time to compute them again.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import scipy

from risk_pipeline.risk.var.monte_carlo import MIXING_SCALE_VERSION, MixingKey
from risk_pipeline.storage.paths import data_dir


def mixing_scale_folder(root: Path | None = None) -> Path:
    """The folder of this code's scale files in the data folder ``root`` (default :func:`data_dir`)."""
    name = f"v{MIXING_SCALE_VERSION}-numpy{np.__version__}-scipy{scipy.__version__}"
    return (root if root is not None else data_dir()) / "cache" / "mixing_scales" / name


class MixingScaleFiles:
    """A :class:`~risk_pipeline.risk.var.monte_carlo.MixingScaleStore` of one ``.npy`` file per key in
    ``folder``. A file that cannot be read as the key's array counts as absent (computed again and
    rewritten); one that cannot be written (a read-only or full disk) is left unwritten: the scales are
    then computed in each process, as without the files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: MixingKey) -> Path:
        seed, n_scenarios, day, nu = key
        return self.folder / f"{seed}_{n_scenarios}_{day}_{float(nu).hex()}.npy"

    def load(self, key: MixingKey) -> np.ndarray | None:
        try:
            scale = np.load(self._path(key), allow_pickle=False)
        except (OSError, ValueError):
            return None
        return scale if scale.dtype == np.float64 and scale.shape == (key[1],) else None

    def save(self, key: MixingKey, scale: np.ndarray) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(handle, "wb") as file:
                np.save(file, scale, allow_pickle=False)
            os.replace(temporary, self._path(key))  # whole or absent: another process may read it meanwhile
        except OSError:
            Path(temporary).unlink(missing_ok=True)
