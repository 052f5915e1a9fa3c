"""The ``hepcourse`` command.

Learners:
    hepcourse start ch01                      copy the exercise to workspace/ (git-ignored)
    hepcourse check workspace/ch01_....ipynb  grade a copy with the hidden tests, print a table

Instructors (details: book/instructor.md):
    hepcourse release [ASSIGNMENT ...] [--force]        regenerate exercises/ from solutions/
    hepcourse grade collect ASSIGNMENT FOLDER|ZIP       file submissions named <student>.ipynb
    hepcourse grade autograde ASSIGNMENT [--jobs N]     autograde them in the sandbox
    hepcourse grade feedback ASSIGNMENT                 feedback HTML (no hidden tests, offline math)
    hepcourse grade export ASSIGNMENT [--out FILE]      grades CSV, one row per student
    hepcourse site [--quick] [--no-solutions]           build the website
    hepcourse bench grading [--n 200 --baseline 20]     grading throughput vs sequential nbgrader
    hepcourse bench taggers [--quick] [--only NAME ...] the top taggers of chapters 01-04 on the same jets
    hepcourse list                                      the assignments

Data (details: book/data.md):
    hepcourse data make NAME [--events N] [--seed S] [--jobs J]   generate a data set into data/
    hepcourse data list                                 the data sets and what is committed
    hepcourse data verify [NAME ...]                    check data/ against data/MANIFEST
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _release(args) -> int:
    from .grading.release import ModifiedReleaseError, release

    try:
        written = release(args.assignments or None, force=args.force)
    except ModifiedReleaseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path in written:
        print(f"released {path}")
    return 0


def _list(args) -> int:
    from .grading.course import assignments

    for name in assignments():
        print(name)
    return 0


def _start(args) -> int:
    from .grading.classroom import start

    try:
        path = start(args.assignment, force=args.force)
    except FileExistsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"Your copy: {path}\nOpen it in JupyterLab (make lab), then check it with: hepcourse check {path}")
    return 0


def _check(args) -> int:
    import time

    from .grading.classroom import check, report

    t0 = time.perf_counter()
    print(f"Checking {args.notebook} with the visible and hidden tests (your file is not changed) ...", flush=True)
    grade = check(Path(args.notebook), sandbox=None if args.sandbox else False)
    print(report(grade))
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0 if grade.score is not None and grade.score == grade.max_score else 1


def _grade(args) -> int:
    from .grading import classroom

    if args.action == "collect":
        students = classroom.collect(args.assignment, Path(args.submissions))
        print(f"collected {len(students)} submissions of {classroom.find_assignment(args.assignment)}: {', '.join(students)}")
    elif args.action == "autograde":
        from tqdm import tqdm

        with tqdm(desc="graded", unit="submission", ascii=True) as bar:
            grades = classroom.grade_class(args.assignment, jobs=args.jobs,
                                           source=Path(args.solutions) if args.solutions else None,
                                           sandbox=not args.no_sandbox, on_graded=lambda g: bar.update())
        manual = [s for s, g in grades.items() if g.needs_manual_grade or g.score is None]
        print(f"graded {len(grades)} submissions; {len(manual)} need a look: {', '.join(manual) or 'none'}")
    elif args.action == "feedback":
        pages = classroom.feedback(args.assignment, source=Path(args.solutions) if args.solutions else None)
        print(f"wrote {len(pages)} feedback pages under {pages[0].parents[2] if pages else '-'}")
    elif args.action == "export":
        assignment = classroom.find_assignment(args.assignment)
        out = Path(args.out or classroom.grading_dir() / f"{assignment}-grades.csv")
        print(f"wrote {classroom.export_csv(classroom.load_outcomes(assignment), out)}")
    return 0


def _site(args) -> int:
    from .site import build

    def report(line: str) -> None:
        print(line, flush=True)

    print(f"Building the course website ({'quick' if args.quick else 'full'} mode"
          f"{', without solutions' if args.no_solutions else ''}):", flush=True)
    result = build(args.quick, not args.no_solutions, Path(args.path_output) if args.path_output else None,
                   jobs=args.jobs, report=report)
    if result.returncode != 0:
        sys.stdout.write(result.log[-6000:])
    for failed in result.failed:
        print(f"\n{failed.notebook} failed:\n{failed.error[-3000:]}")
    ok = result.returncode == 0 and not result.failed
    status = "done" if ok else f"finished with problems ({len(result.failed)} notebook(s) failed)"
    print(f"\n{status} in {result.seconds:.0f} s; the course website: file://{(result.html / 'index.html').resolve()}")
    return 0 if ok else 1


def _bench(args) -> int:
    import json

    if args.what == "taggers":
        return _bench_taggers(args)
    from .bench import grading

    result = grading.run(args.assignment, n=args.n, baseline=args.baseline, jobs=args.jobs,
                         variants=Path(args.variants) if args.variants else None)
    print(json.dumps(result, indent=1))
    return 0


def _bench_taggers(args) -> int:
    """``hepcourse bench taggers``: train or load every tagger, write the CSV and the rejection plot."""
    from .bench import taggers as bench_taggers

    rows, _ = bench_taggers.run(quick=True if args.quick else None, out=Path(args.out) if args.out else None,
                                names=args.only or None)
    print(f"{'tagger':22s} {'AUC':>7s} {'1/eB(0.3)':>10s} {'1/eB(0.5)':>10s} {'params':>8s} {'train s':>8s} {'jets/s':>8s}  device")
    for r in rows:
        train_s = "-" if r["train_s"] is None else f"{r['train_s']:.0f}"
        print(f"{r['tagger']:22s} {r['auc']:7.4f} {r['rejection_03']:10.1f} {r['rejection_05']:10.1f} "
              f"{r['parameters']:8d} {train_s:>8s} {r['jets_per_s']:8d}  {r['device']}")
    print("\nPlehn et al. [plehn2022modern] on the public top-tagging data set (1.2M training jets), "
          "for the ordering only:")
    for net, auc, r05, r03, source in bench_taggers.PUBLISHED:
        print(f"{net:22s} {auc:7.4f} {r03:>10s} {r05 or '-':>10s}   ({source})")
    return 0


def _data(args) -> int:
    from .data import generate, manifest
    from .data.registry import DATASETS

    if args.action == "make":
        if not args.names:
            print("error: data make needs a data set name: " + ", ".join(DATASETS), file=sys.stderr)
            return 2
        for name in args.names:
            if name not in DATASETS:
                print(f"error: unknown data set {name!r}; known: {', '.join(DATASETS)}", file=sys.stderr)
                return 2
        for name in args.names:
            result = generate.make(name, events=args.events, seed=args.seed, jobs=args.jobs,
                                   out=Path(args.out) if args.out else None,
                                   params={"alphas": args.alphas} if args.alphas is not None else None)
            size = result.path.stat().st_size
            print(f"wrote {result.path} ({size / 1e6:.1f} MB): " +
                  ", ".join(f"{k} {v}" for k, v in result.counts.items()) +
                  f" in {result.seconds:.0f} s; rates (per s per core): " +
                  ", ".join(f"{k} {v}" for k, v in result.rates.items()))
        return 0
    if args.action == "list":
        doc = manifest.read_manifest()
        for name, spec in DATASETS.items():
            path = manifest.manifest_path().parent / spec.filename
            info = doc["datasets"].get(spec.filename)
            state = (f"{path.stat().st_size / 1e6:.1f} MB, "
                     + ", ".join(f"{k} {v}" for k, v in info.get("counts", {}).items()) + f"; rebuild: {info.get('command')}"
                     if path.exists() and info else "not generated")
            print(f"{name:16s} {spec.description}\n{'':16s} data/{spec.filename}: {state}")
        return 0
    # verify
    doc = manifest.read_manifest()
    files = doc["datasets"]
    wanted = set(args.names)
    names = {DATASETS[n].filename if n in DATASETS else n for n in wanted}
    bad = 0
    for rel, info in files.items():
        if names and rel not in names:
            continue
        try:
            manifest.verify(manifest.manifest_path().parent / rel)
            print(f"ok       data/{rel}")
        except manifest.DataFileError as err:
            bad += 1
            print(f"FAILED   {err}")
    if not files:
        print(f"{manifest.manifest_path()} lists no files")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hepcourse",
                                     description="Tools of the course Machine Learning for Particle Physics.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("start", help="copy an exercise into workspace/ to work on it")
    p.add_argument("assignment", help="chapter (ch01) or assignment id")
    p.add_argument("--force", action="store_true", help="overwrite your existing copy")
    p.set_defaults(func=_start)

    p = sub.add_parser("check", help="grade your notebook with the hidden tests (the file is not changed)")
    p.add_argument("notebook")
    p.add_argument("--sandbox", action="store_true", help="run it in the bubblewrap sandbox")
    p.set_defaults(func=_check)

    p = sub.add_parser("release", help="regenerate exercises/ from solutions/ with nbgrader")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--force", action="store_true", help="overwrite releases edited by hand")
    p.set_defaults(func=_release)

    p = sub.add_parser("grade", help="grade a class: collect, autograde, feedback, export")
    p.add_argument("action", choices=["collect", "autograde", "feedback", "export"])
    p.add_argument("assignment")
    p.add_argument("submissions", nargs="?", help="collect: a folder or zip of <student>.ipynb files")
    p.add_argument("--jobs", type=int, default=2, help="notebooks graded at once (default 2)")
    p.add_argument("--solutions", help="a private copy of solutions/ whose hidden tests students have not seen")
    p.add_argument("--out", help="export: the CSV file")
    p.add_argument("--no-sandbox", action="store_true", help="run submissions unsandboxed (trusted notebooks only)")
    p.set_defaults(func=_grade)

    p = sub.add_parser("site", help="build the website (Jupyter Book) into _build/html")
    p.add_argument("--quick", action="store_true", help="quick mode (HEPCOURSE_QUICK=1)")
    p.add_argument("--no-solutions", action="store_true", help="leave out the Solutions part (a classroom build)")
    p.add_argument("--path-output", help="build into PATH/_build/html")
    p.add_argument("--jobs", type=int, default=None, help="notebooks executed at once (default: the cores, at most 4)")
    p.set_defaults(func=_site)

    p = sub.add_parser("bench", help="measure: `bench grading` = grading throughput vs sequential nbgrader; "
                                     "`bench taggers` = the benchmark table of the top taggers")
    p.add_argument("what", choices=["grading", "taggers"])
    p.add_argument("--quick", action="store_true", help="taggers: tiny models on 2000 jets (writes _build/bench/)")
    p.add_argument("--only", nargs="*", help="taggers: only these (e.g. BDT PFN EdgeConv)")
    p.add_argument("--out", help="taggers: write the CSV and plot into this folder")
    p.add_argument("--assignment", default="ch01_classification")
    p.add_argument("--n", type=int, default=200, help="submissions in the fake class")
    p.add_argument("--baseline", type=int, default=20, help="of them graded by plain sequential nbgrader")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--variants", help="grading: a YAML file of wrong-answer variants (tests/submissions/<assignment>.yml)")
    p.set_defaults(func=_bench)

    p = sub.add_parser("data", help="the data sets: make (generate), list, verify")
    p.add_argument("action", choices=["make", "list", "verify"])
    p.add_argument("names", nargs="*", help="data set names (make: one or more; verify: default all)")
    p.add_argument("--events", type=int, help="accepted jets per process (default: the committed size)")
    p.add_argument("--seed", type=int, help="base seed (default: the committed seed)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (the output does not depend on it)")
    p.add_argument("--out", help="write this file instead of data/<name>.root (the MANIFEST is left alone)")
    p.add_argument("--alphas", type=float, help="ee-z-hadrons: TimeShower:alphaSvalue (default 0.1365)")
    p.set_defaults(func=_data)

    p = sub.add_parser("list", help="list the assignments")
    p.set_defaults(func=_list)

    args = parser.parse_args(argv)
    if args.command == "grade" and args.action == "collect" and not args.submissions:
        parser.error("grade collect needs the folder or zip of submissions")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
