import os

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
