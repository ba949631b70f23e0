"""Monte Carlo's mixing scales kept as files of the data folder, ``cache/mixing_scales/``.

A day's scales (:func:`risk_pipeline.risk.var.monte_carlo.mixing_scale`: 10,000 inverse incomplete
gamma functions per day of the path and degrees-of-freedom point) depend only on the seed, the
number of scenarios, the day and nu, and on the code and library versions that compute them: a
new day's process, or another worker of the run, loads them from here instead of computing them
again (docs/performance.md). The folder is named by ``MIXING_SCALE_VERSION`` and the versions of
NumPy and SciPy, so a file is never read by a code that would compute other numbers; a file is read
only as the whole float64 array of the key's length (:class:`MixingScaleFiles`). Deleting the folder
only costs the time to compute them again.
"""

from __future__ import annotations

from contextlib import suppress
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
    ``folder``. A file is created by one writer only (exclusive creation: a process that finds it made
    keeps its own array) and written in order, so a file another process is still writing, or one a
    killed process left short, fails to load (NumPy reads fewer values than its header states): it
    counts as absent and is deleted, the scales computed again and written anew. A file that cannot be
    written (a read-only or full disk) is left out: the scales are then computed in each process, as
    without the files."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: MixingKey) -> Path:
        seed, n_scenarios, day, nu = key
        return self.folder / f"{seed}_{n_scenarios}_{day}_{float(nu).hex()}.npy"

    def load(self, key: MixingKey) -> np.ndarray | None:
        path = self._path(key)
        try:
            scale = np.load(path, allow_pickle=False)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, EOFError):
            scale = None
        if scale is None or scale.dtype != np.float64 or scale.shape != (key[1],):
            with suppress(OSError):  # (a folder that cannot be read or written: nothing kept there)
                path.unlink(missing_ok=True)
            return None
        return scale

    def save(self, key: MixingKey, scale: np.ndarray) -> None:
        path = self._path(key)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            file = open(path, "xb")  # closed below (deleted if its write fails)
        except OSError:  # FileExistsError: written, or being written, by another process
            return
        try:
            with file:
                np.save(file, scale, allow_pickle=False)
        except OSError:
            with suppress(OSError):
                path.unlink(missing_ok=True)  # a short file (a full disk), not left for a later load to find
