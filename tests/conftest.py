import os

import pytest

# Notebooks and tests run in quick mode unless told otherwise; one thread per process so that
# pytest-xdist workers do not oversubscribe the cores.
os.environ.setdefault("HEPCOURSE_QUICK", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_terminal_summary(terminalreporter):
    """Print the wall time since `make test` started (install included), before pytest's summary line."""
    import time

    start = os.environ.get("HEPCOURSE_TEST_START")
    if start:
        total = time.time() - float(start)
        terminalreporter.write_line(f"total time of `make test` (install + tests): {total:.0f} s ({total / 60:.1f} min)")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright drives Debian's Chromium (no `playwright install`); skip without it.
    Every test that needs a browser takes pytest-playwright's ``browser`` or ``page`` fixture: a
    second ``sync_playwright()`` in a worker whose session browser already runs fails."""
    import site_support

    return site_support.launch_args(browser_type_launch_args)
