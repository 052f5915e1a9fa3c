"""hepcourse: the helper package of the course *Machine Learning for Particle Physics*.

One place per concern (the package map is in CONTRIBUTING.md): ``config`` (modes, device, seeds, paths),
``train`` (the one training loop and :func:`~hepcourse.train.predict`), ``losses`` (likelihood losses),
``models`` (network architectures), ``metrics``, ``plot``, ``physics`` (kinematics, jet observables, toy
models with exact densities), ``data`` (generation, detector, files, loaders), ``checkpoints`` (committed
lecture models), ``bench`` (benchmarks) and ``grading`` (test helpers and the autograder).
"""


def _version() -> str:
    """The version of the installed distribution (pyproject.toml is its one source); read from
    pyproject.toml when the package runs from a source folder that was never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("hepcourse")
    except PackageNotFoundError:
        import tomllib
        from pathlib import Path

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        if pyproject.is_file():
            return tomllib.loads(pyproject.read_text())["project"]["version"]
        return "0+unknown"


__version__ = _version()
