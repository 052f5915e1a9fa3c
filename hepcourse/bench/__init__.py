"""Benchmarks with committed results: ``hepcourse bench taggers`` and ``hepcourse bench grading``.

* :mod:`.taggers` — every top tagger of chapters 01–04 on the same jets (``data/benchmarks/ch04_taggers.csv``);
* :mod:`.grading` — the throughput of the course's sandboxed parallel grader against sequential nbgrader;
* :mod:`.gpu_check` — ``make gpu-check``: the GPU tests, timed retrains and the tagger benchmark on one GPU,
  with a report (``--dry-run`` runs its logic on the CPU in seconds).

Each module is imported on its own (``from hepcourse.bench import taggers``); this package imports nothing.
"""
