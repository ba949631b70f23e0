"""Monte Carlo's mixing scales kept in the data folder's files: the same numbers, bit for bit, as computed."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from risk_pipeline.risk.var import monte_carlo
from risk_pipeline.risk.var.monte_carlo import DOF_GRID, mixing_scale, mixing_scales_kept_in, monte_carlo_var_es
from risk_pipeline.storage.mixing_scales import MixingScaleFiles, mixing_scale_folder


class _Counting(MixingScaleFiles):
    """The files, counting the scales they gave and kept."""

    def __init__(self, folder):
        super().__init__(folder)
        self.loaded = self.saved = 0

    def load(self, key):
        scale = super().load(key)
        self.loaded += scale is not None
        return scale

    def save(self, key, scale):
        super().save(key, scale)
        self.saved += 1


@pytest.fixture()
def fresh_process_cache():
    """Each test's scales computed or loaded anew (the process's cache emptied before and after)."""
    monte_carlo._mixing_scale.cache_clear()
    yield
    monte_carlo._mixing_scale.cache_clear()


def _simulate(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    returns = rng.standard_t(5, size=(330, 3)) * 0.01
    weights = np.tile([0.5, 0.3, 0.2], (330, 1))
    surface = monte_carlo_var_es(returns, weights, window=250, confidences=(0.975, 0.99), horizons=(1, 10),
                                 n_scenarios=2_000, seed=seed)
    return surface.var, surface.es


def test_mixing_scale_is_the_t_mixing_of_the_seeded_uniforms():
    nu = float(DOF_GRID[17])
    u = np.random.default_rng([42, 3, 1]).random(1_000)
    assert mixing_scale(42, 1_000, 3, nu).tobytes() == np.sqrt((nu - 2.0) / stats.chi2.ppf(u, nu)).tobytes()


def test_estimates_from_the_files_equal_those_computed_bit_for_bit(tmp_path, fresh_process_cache):
    computed = _simulate(seed=9)
    monte_carlo._mixing_scale.cache_clear()
    files = _Counting(mixing_scale_folder(tmp_path))
    with mixing_scales_kept_in(files):
        written = _simulate(seed=9)
    assert files.saved > 0 and files.loaded == 0
    assert len(list(files.folder.glob("*.npy"))) == files.saved
    monte_carlo._mixing_scale.cache_clear()  # a new process: every scale from the files
    with mixing_scales_kept_in(files):
        loaded = _simulate(seed=9)
    assert files.loaded == files.saved
    for got in (written, loaded):
        assert all(a.tobytes() == b.tobytes() for a, b in zip(got, computed))


def test_a_file_that_is_not_the_keys_array_is_deleted_and_written_anew(tmp_path, fresh_process_cache):
    files = MixingScaleFiles(mixing_scale_folder(tmp_path))
    key = (3, 500, 0, float(DOF_GRID[30]))
    whole = files._path(key)
    files.save(key, mixing_scale(*key))
    written = whole.read_bytes()
    for short in (0, 60, len(written) // 2, len(written) - 1):  # a file being written, or left by a killed writer
        whole.write_bytes(written[:short])
        assert files.load(key) is None and not whole.exists()
    np.save(whole, np.ones(499))  # another length
    assert files.load(key) is None and not whole.exists()
    with mixing_scales_kept_in(files):
        scale = monte_carlo._mixing_scale(3, 500, 0, 30)
    assert scale.tobytes() == mixing_scale(*key).tobytes() == files.load(key).tobytes()
    assert whole.read_bytes() == written
    assert not scale.flags.writeable


def test_a_file_is_written_by_one_process_only(tmp_path):
    files = MixingScaleFiles(mixing_scale_folder(tmp_path))
    key = (3, 200, 1, float(DOF_GRID[3]))
    files.save(key, mixing_scale(*key))
    before = files._path(key).stat()
    files.save(key, mixing_scale(*key))  # another process's save of the same key: the file is left as it is
    after = files._path(key).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_the_folder_is_named_by_the_versions_of_the_code_and_libraries(tmp_path):
    import scipy

    name = mixing_scale_folder(tmp_path).name
    assert f"v{monte_carlo.MIXING_SCALE_VERSION}" in name
    assert np.__version__ in name and scipy.__version__ in name


def test_an_unwritable_folder_leaves_the_scales_computed(tmp_path, fresh_process_cache):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder would be")
    files = MixingScaleFiles(blocked / "scales")
    with mixing_scales_kept_in(files):
        scale = monte_carlo._mixing_scale(4, 300, 1, 10)
    assert scale.tobytes() == mixing_scale(4, 300, 1, float(DOF_GRID[10])).tobytes()
