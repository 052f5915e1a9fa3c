"""hepcourse: the helper package of the course *Machine Learning for Particle Physics*.

One place per concern (see DESIGN.md): ``config`` (modes, device, seeds), ``train`` (the one
training loop), ``metrics``, ``plot``, ``physics.toys`` (toy models with exact densities) and
``grading`` (test helpers and the autograder used by the course's tests).
"""

__version__ = "0.1.0"
