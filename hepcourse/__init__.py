"""hepcourse: the helper package of the course *Machine Learning for Particle Physics*.

One place per concern (see DESIGN.md): ``config`` (modes, device, seeds), ``train`` (the one
training loop), ``losses`` (likelihood losses), ``models`` (network architectures), ``metrics``,
``plot``, ``physics.toys`` (toy models with exact densities), ``checkpoints`` (committed lecture
models) and ``grading`` (test helpers and the autograder used by the course's tests).
"""

__version__ = "0.3.0"
