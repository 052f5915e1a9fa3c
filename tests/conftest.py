import os

# Notebooks and tests run in quick mode unless told otherwise; one thread per process so that
# pytest-xdist workers do not oversubscribe the cores.
os.environ.setdefault("HEPCOURSE_QUICK", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
