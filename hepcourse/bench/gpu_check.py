"""``make gpu-check``: check the course on one GPU in under 10 minutes and write a report.

    python -m hepcourse.bench.gpu_check [--dry-run] [--out DIR] [--steps NAME,...] [-k PYTEST_EXPRESSION]

The steps, each timed and each with its own time limit (600 s in all; the report says which passed,
failed or ran out of time):

1. ``gpu-tests``: ``pytest -m gpu`` (the tests of ``tests/test_gpu.py``) — every model's forward and backward pass with and
   without mixed precision, ``fit`` for a few steps, the fused attention against the reference, every
   committed checkpoint reproducing its recorded metric on the GPU;
2. three lectures retrained in full mode (``HEPCOURSE_RETRAIN=1``; :data:`LECTURES`), executed with
   nbconvert, with the metrics their checkpoints reach beside the committed ones;
3. ``bench-taggers``: the tagger benchmark with every network retrained (``hepcourse bench taggers``).

Retraining writes checkpoints, ``data/MANIFEST`` and the benchmark table. All of it happens in a temporary
copy of the course (``HEPCOURSE_ROOT``; the data files are linked, not copied), so the committed files are
never touched; the retrained numbers go into the report.

``--dry-run`` runs the same steps on the CPU in quick mode (the GPU tests on the CPU without the checkpoint
tests, ``HEPCOURSE_QUICK=1`` for the lectures, ``--quick`` for the benchmark): a check of this script where
no GPU is lent. The report goes to ``_build/gpu-check/report.md`` (and ``report.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import config

LECTURES = ("ch02_neural_networks/03_uncertainties.ipynb", "ch03_cnn_taggers/02_cnn_tagger.ipynb",
            "ch04_sets_graphs_transformers/02_graphs_and_transformers.ipynb")
"""The lectures retrained: ensembles and a Bayesian network, the jet-image CNN, the graph, transformer and
Lorentz taggers."""
BUDGET_S = 600
LIMITS_S = {"gpu-tests": 180, "lecture": 90, "bench-taggers": 150}
"""Time limits of the steps on a GPU (seconds). The dry run on a CPU, possibly shared, gets 10 times more."""
DRY_RUN_FACTOR = 10


@dataclass
class Step:
    """One step of the check and how it went."""

    name: str
    limit_s: float
    status: str = "not run"        # passed, failed, timeout, skipped
    seconds: float = 0.0
    summary: str = ""
    details: list = field(default_factory=list)


def course_copy(root: Path, dest: Path) -> Path:
    """A copy of the course that retraining may write into: ``_config.yml``, ``lectures/`` and ``data/`` (data
    files linked, the MANIFEST, checkpoints and benchmark tables copied)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "_config.yml", dest / "_config.yml")
    shutil.copytree(root / "lectures", dest / "lectures")
    (dest / "data").mkdir()
    for item in (root / "data").iterdir():
        if item.suffix == ".root":
            (dest / "data" / item.name).symlink_to(item.resolve())
        elif item.is_dir():
            shutil.copytree(item, dest / "data" / item.name)
        else:
            shutil.copy2(item, dest / "data" / item.name)
    return dest


def _run(cmd: list[str], env: dict, cwd: Path, limit: float, log: Path) -> tuple[str, float, str]:
    """Run ``cmd`` with a time limit; returns (status, seconds, last lines of its output)."""
    start = time.perf_counter()
    with open(log, "w") as out:
        try:
            proc = subprocess.run(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=limit)
            status = "passed" if proc.returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            status = "timeout"
    seconds = time.perf_counter() - start
    tail = [line for line in log.read_text(errors="replace").splitlines() if line.strip()][-3:]
    return status, seconds, " | ".join(tail)[-400:]


def _checkpoint_metrics(manifest_before: dict, manifest_after: dict, notebook: str) -> list[str]:
    """'name: metric committed → retrained' for the checkpoints that ``notebook`` (re)trained."""
    lines = []
    for path, entry in sorted(manifest_after.get("checkpoints", {}).items()):
        if entry.get("notebook") != notebook:
            continue
        old = manifest_before.get("checkpoints", {}).get(path, {}).get("metric", {})
        new = entry["metric"]
        changed = "" if old.get("value") != new["value"] else " (not retrained)"
        lines.append(f"{Path(path).stem}: {new['name']} {old.get('value', '-')} committed, {new['value']} retrained{changed}")
    return lines


def _environment(dry_run: bool) -> list[str]:
    import torch

    lines = [f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}",
             f"device: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no CUDA device'}",
             f"mode: {'dry run on the CPU (quick mode)' if dry_run else 'full mode, HEPCOURSE_RETRAIN=1'}"]
    return lines


def run(out: Path | None = None, dry_run: bool = False, steps: list[str] | None = None, pytest_k: str | None = None,
        budget_s: float | None = None) -> list[Step]:
    """Run the check (see the module docstring); write ``report.md`` and ``report.json`` into ``out``
    (default ``_build/gpu-check``) and return the steps. ``budget_s``: the time for all steps (default
    :data:`BUDGET_S`, ten times that in a dry run)."""
    from ..data import manifest

    root = config.ROOT
    out = Path(out) if out else config.BUILD_DIR / "gpu-check"
    out.mkdir(parents=True, exist_ok=True)
    steps = steps or ["gpu-tests", *LECTURES, "bench-taggers"]
    selected = [s if s in ("gpu-tests", "bench-taggers") else "lecture:" + s.removeprefix("lecture:") for s in steps]
    factor = DRY_RUN_FACTOR if dry_run else 1
    budget_s = budget_s if budget_s is not None else BUDGET_S * factor
    plan = [Step(n, LIMITS_S[n.split(":")[0]] * factor) for n in selected]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="hepcourse-gpu-check-") as tmp:
        copy = course_copy(root, Path(tmp) / "course")
        base = {**os.environ, "HEPCOURSE_ROOT": str(copy), "HEPCOURSE_PROGRESS": "0"}
        base.pop("HEPCOURSE_QUICK", None)
        base.update({"HEPCOURSE_QUICK": "1", "HEPCOURSE_DEVICE": "cpu"} if dry_run else {"HEPCOURSE_RETRAIN": "1"})
        before = manifest.read_manifest(copy / "data" / "MANIFEST")
        for step in plan:
            left = budget_s - (time.perf_counter() - started)
            if left < 5:
                step.status, step.summary = "skipped", "the 10-minute budget was spent"
                continue
            limit = min(step.limit_s, left)
            log = out / f"{step.name.replace(':', '-').replace('/', '-')}.log"
            if step.name == "gpu-tests":
                # the course's test suite, as `make test` runs it: pytest finds it from pyproject.toml
                cmd = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"]
                k = pytest_k or ("not checkpoint" if dry_run else None)
                cmd += ["-k", k] if k else []
                env = {**base, "HEPCOURSE_ROOT": str(root)}
                if dry_run:
                    env["HEPCOURSE_GPU_TESTS_ON_CPU"] = "1"
                step.status, step.seconds, step.summary = _run(cmd, env, root, limit, log)
            elif step.name.startswith("lecture:"):
                nb = step.name.split(":", 1)[1]
                cmd = [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--output-dir",
                       str(out / "notebooks"), f"--ExecutePreprocessor.timeout={int(limit)}", str(copy / "lectures" / nb)]
                step.status, step.seconds, step.summary = _run(cmd, base, (copy / "lectures" / nb).parent, limit, log)
                after = manifest.read_manifest(copy / "data" / "MANIFEST")
                step.details = _checkpoint_metrics(before, after, f"lectures/{nb}")
            else:
                cmd = [sys.executable, "-m", "hepcourse.cli", "bench", "taggers", "--out", str(out / "bench")]
                cmd += ["--quick"] if dry_run else []
                step.status, step.seconds, step.summary = _run(cmd, base, copy, limit, log)
                csv = out / "bench" / "ch04_taggers.csv"
                if csv.exists():
                    from .taggers import read_csv

                    step.details = [f"{r['tagger']}: AUC {r['auc']}, 1/eB(0.3) {r['rejection_03']}, train "
                                    f"{r['train_s']} s, {r['jets_per_s']} jets/s on {r['device']}" for r in read_csv(csv)]
    write_report(plan, out, _environment(dry_run), time.perf_counter() - started)
    return plan


def write_report(steps: list[Step], out: Path, environment: list[str], seconds: float) -> Path:
    """``report.md`` (a table and the details of each step) and ``report.json`` in ``out``."""
    lines = ["# hepcourse GPU check", "", *[f"* {e}" for e in environment], f"* total: {seconds:.0f} s", "",
             "| step | status | seconds | limit | last output |", "|---|---|---:|---:|---|"]
    for s in steps:
        lines.append(f"| {s.name} | {s.status} | {s.seconds:.0f} | {s.limit_s:.0f} | {s.summary.replace('|', '/')} |")
    for s in steps:
        if s.details:
            lines += ["", f"## {s.name}", "", *[f"* {d}" for d in s.details]]
    (out / "report.json").write_text(json.dumps({"environment": environment, "seconds": round(seconds, 1),
                                                 "steps": [asdict(s) for s in steps]}, indent=1))
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hepcourse.bench.gpu_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="the same steps on the CPU in quick mode")
    parser.add_argument("--out", help="report folder (default _build/gpu-check)")
    parser.add_argument("--steps", help="comma-separated: gpu-tests, lecture paths under lectures/ (e.g. "
                                        "ch03_cnn_taggers/02_cnn_tagger.ipynb), bench-taggers (default: all of "
                                        "them, with the lectures of LECTURES)")
    parser.add_argument("-k", dest="pytest_k", help="pytest -k expression for the gpu-tests step")
    args = parser.parse_args(argv)
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("no CUDA device here: `make gpu-check` is for a machine with a GPU; "
              "`python -m hepcourse.bench.gpu_check --dry-run` checks this script on the CPU", file=sys.stderr)
        return 2
    steps = run(Path(args.out) if args.out else None, args.dry_run, args.steps.split(",") if args.steps else None,
                args.pytest_k)
    report = (Path(args.out) if args.out else config.BUILD_DIR / "gpu-check") / "report.md"
    print(report.read_text())
    return 0 if all(s.status == "passed" for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
