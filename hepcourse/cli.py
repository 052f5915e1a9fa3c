"""The ``hepcourse`` command: ``hepcourse --help``, and ``hepcourse <command> --help`` for each.

Learners:
    hepcourse start ch01                        copy the exercise to workspace/ (git-ignored)
    hepcourse check workspace/ch01_....ipynb    grade a copy with the hidden tests, part by part
    hepcourse list                              the assignments

Instructors (details: book/instructor.md, book/hub.md):
    hepcourse release [ASSIGNMENT ...] [--force]            regenerate exercises/ from solutions/
    hepcourse grade doctor [--solutions DIR]                is this machine ready to grade a class?
    hepcourse grade collect ASSIGNMENT FOLDER|ZIP [--update] [--due TIME]
    hepcourse grade autograde ASSIGNMENT [--jobs N] [--student ID ...] [--solutions DIR] [--scheduler ADDRESS]
    hepcourse grade feedback ASSIGNMENT                     feedback HTML (no hidden tests, offline math)
    hepcourse grade export ASSIGNMENT [--roster CSV] [--out FILE]
    hepcourse site [--quick] [--no-solutions]               build the website

Data and benchmarks (details: book/data.md):
    hepcourse data make NAME [--events N] [--seed S] [--jobs J] [--scheduler ADDRESS]   generate a data set into data/
    hepcourse data list | verify [NAME ...]
    hepcourse bench taggers [--quick] [--only NAME ...]           the taggers of chapters 01-04 on the same jets
        [--level particle|detector ...] [--seed N|N,M ...]          several trainings, resumable (ch04_taggers_seeds.csv)
    hepcourse bench grading [--assignment ch01] [--n 200 --baseline 20] [--variants tests/submissions]
                                                                  grading overhead, vs sequential nbgrader
    hepcourse bench peers [--only NAME ...]                       our implementations vs PyG, energyflow, FastJet, zuko, torchcfm, sbi

Library code raises exceptions; this module alone turns them into messages and exit statuses
(0 success, 1 a check found problems or a notebook lost points, 2 a usage or course error).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# ----------------------------------------------------------------------------- learners


def _start(args) -> int:
    from .grading.classroom import start

    path = start(args.assignment, force=args.force)
    print(f"Your copy: {path}\nOpen it in JupyterLab (make lab), then check it with: hepcourse check {path}")
    return 0


def _check(args) -> int:
    from .grading.classroom import check, report

    t0 = time.perf_counter()
    print(f"Checking {args.notebook} with the visible and hidden tests (your file is not changed) ...", flush=True)
    grade = check(Path(args.notebook), sandbox=None if args.sandbox else False)
    print(report(grade))
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0 if grade.score is not None and grade.score == grade.max_score else 1


def _list(args) -> int:
    from .grading.course import assignments

    print("\n".join(assignments()))
    return 0


# ----------------------------------------------------------------------------- instructors


def _release(args) -> int:
    from .grading.release import release

    for path in release(args.assignments or None, force=args.force):
        print(f"released {path}")
    return 0


def _solutions(args) -> Path | None:
    return Path(args.solutions) if getattr(args, "solutions", None) else None


def _grade_doctor(args) -> int:
    from .grading.doctor import diagnose, report

    print("Checking this machine for grading a class" + ("" if args.no_probe else " (a minute: it starts sandboxes)")
          + " ...", flush=True)
    findings = diagnose(_solutions(args), sandbox_probe=not args.no_probe)
    print(report(findings))
    return 1 if any(f.status == "FAIL" for f in findings) else 0


def _grade_collect(args) -> int:
    from .grading import instructor

    done = instructor.collect(args.assignment, Path(args.submissions), update=args.update,
                              names_from=args.names_from, due=args.due)
    print(f"collected {len(done.filed)} submissions of {done.assignment}: {', '.join(done.filed) or 'none'}")
    if done.kept_older:
        print(f"kept {len(done.kept_older)} older versions under {Path(done.kept_older[0]).parents[1]}")
    if done.due:
        print(f"due date of {done.assignment}: {done.due.isoformat(timespec='minutes')} (recorded in the gradebook)")
    return 0


def _grade_autograde(args) -> int:
    from tqdm import tqdm

    from .grading import instructor
    from .grading.sandbox import Limits

    limits = Limits(**{k: v for k, v in (("wall_s", args.wall_s), ("cell_s", args.cell_s)) if v})
    with tqdm(desc="graded", unit="submission", ascii=True) as bar:
        grades = instructor.grade_class(args.assignment, jobs=args.jobs, source=_solutions(args),
                                        sandbox=not args.no_sandbox, on_graded=lambda g: bar.update(),
                                        students=args.student or None, limits=limits,
                                        warm=False if args.cold else None, scheduler=args.scheduler)
    look = [f"{s} ({g.error})" if g.error else s for s, g in grades.items() if g.needs_manual_grade or g.score is None]
    print(f"graded {len(grades)} submissions; {len(look)} need a look" + (":" if look else ""))
    for line in look:
        print(f"  {line[:300]}")
    return 0


def _grade_feedback(args) -> int:
    from .grading import instructor

    pages = instructor.feedback(args.assignment, source=_solutions(args))
    print(f"wrote {len(pages)} feedback pages under {pages[0].parents[2] if pages else '-'}")
    return 0


def _grade_export(args) -> int:
    from .grading import instructor

    path = instructor.export(args.assignment, Path(args.out) if args.out else None,
                             roster=Path(args.roster) if args.roster else None, source=_solutions(args),
                             id_headers=args.id_headers)
    print(f"wrote {path}")
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


# ----------------------------------------------------------------------------- data and benchmarks


def _bench_grading(args) -> int:
    import json

    from .bench import grading

    result = grading.run(args.assignment, n=args.n, baseline=args.baseline, jobs=args.jobs,
                         variants=Path(args.variants) if args.variants else None, cold=args.cold)
    print(json.dumps(result, indent=1))
    return 0


def _bench_taggers(args) -> int:
    """Train or load every tagger, write the CSV and the rejection plot, print the table."""
    from . import config
    from .bench import taggers as bench_taggers

    if args.level or args.seed:
        out = Path(args.out) if args.out else None
        bench_taggers.run_seeds(levels=args.level or ["particle"], seeds=args.seed or [0], names=args.only or None,
                                quick=True if args.quick else None, out=out, log=lambda m: print(m, flush=True))
        path = (out or (config.BUILD_DIR / "bench" if (args.quick or config.QUICK) else bench_taggers.bench_dir()))
        print(bench_taggers.markdown_table(bench_taggers.aggregate(
            bench_taggers.read_seeds_csv(path / bench_taggers.SEEDS_CSV_NAME))))
        return 0
    rows, _ = bench_taggers.run(quick=True if args.quick else None, out=Path(args.out) if args.out else None,
                                names=args.only or None)
    print(f"{'tagger':22s} {'AUC':>7s} {'1/eB(0.3)':>10s} {'1/eB(0.5)':>10s} {'params':>8s} {'train s':>8s} {'jets/s':>8s}  device")
    for r in rows:
        train_s = "-" if r["train_s"] is None else f"{r['train_s']:.0f}"
        print(f"{r['tagger']:22s} {r['auc']:7.4f} {r['rejection_03']:10.1f} {r['rejection_05']:10.1f} "
              f"{r['parameters']:8d} {train_s:>8s} {r['jets_per_s']:8d}  {r['device']}")
    print("\nPublished on the public top-tagging data set (1.2M training jets; Plehn et al.), for the ordering only:")
    for net, auc, r05, r03, source in bench_taggers.PUBLISHED:
        print(f"{net:22s} {auc:7.4f} {r03:>10s} {r05 or '-':>10s}   ({source})")
    return 0


def _bench_peers(args) -> int:
    """Every comparison with a peer library whose package is installed; the CSV, the book page's table."""
    from .bench import peers

    messages: list[str] = []
    rows = peers.run(out=Path(args.out) if args.out else None, only=args.only or None, messages=messages)
    for m in messages:
        print(m)
    print(peers.markdown_table(rows))
    if not args.out and not args.only:
        print(f"wrote {peers.write_page(rows)}")
    return 0 if all(str(r["agree"]) == "True" for r in rows) else 1


def _data_make(args) -> int:
    from .data import generate
    from .data.registry import DATASETS

    unknown = [n for n in args.names if n not in DATASETS]
    if unknown:
        print(f"error: unknown data set {unknown[0]!r}; known: {', '.join(DATASETS)}", file=sys.stderr)
        return 2
    for name in args.names:
        result = generate.make(name, events=args.events, seed=args.seed, jobs=args.jobs,
                               out=Path(args.out) if args.out else None,
                               params={"alphas": args.alphas} if args.alphas is not None else None,
                               scheduler=args.scheduler)
        print(f"wrote {result.path} ({result.path.stat().st_size / 1e6:.1f} MB): "
              + ", ".join(f"{k} {v}" for k, v in result.counts.items())
              + f" in {result.seconds:.0f} s; rates (per s per core): "
              + ", ".join(f"{k} {v}" for k, v in result.rates.items()))
    return 0


def _data_list(args) -> int:
    from .data import manifest
    from .data.registry import DATASETS

    doc = manifest.read_manifest()
    for name, spec in DATASETS.items():
        path = manifest.manifest_path().parent / spec.filename
        info = doc["datasets"].get(spec.filename)
        state = (f"{path.stat().st_size / 1e6:.1f} MB, "
                 + ", ".join(f"{k} {v}" for k, v in info.get("counts", {}).items()) + f"; rebuild: {info.get('command')}"
                 if path.exists() and info else "not generated")
        print(f"{name:16s} {spec.description}\n{'':16s} data/{spec.filename}: {state}")
    return 0


def _data_verify(args) -> int:
    from .data import manifest
    from .data.registry import DATASETS

    files = manifest.read_manifest()["datasets"]
    names = {DATASETS[n].filename if n in DATASETS else n for n in args.names}
    bad = 0
    for rel in files:
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


# ----------------------------------------------------------------------------- the parser


def _command_with_steps(sub, name: str, help: str, **kwargs):
    """``hepcourse NAME STEP ...``: the parser of command ``name``; returns the subparsers of its steps."""
    command = sub.add_parser(name, help=help, **kwargs)
    return command.add_subparsers(dest="step", required=True, metavar="STEP")


def _grade_parser(sub) -> None:
    steps = _command_with_steps(sub, "grade", "grade a class: doctor, collect, autograde, feedback, export",
                                description="Grade a class (book/instructor.md). Grading data live in grading/ "
                                            "or $HEPCOURSE_GRADING_DIR.")
    private = argparse.ArgumentParser(add_help=False)
    private.add_argument("--solutions", help="a private copy of solutions/ whose hidden tests students have not seen")

    p = steps.add_parser("doctor", parents=[private], help="check this machine before grading a class")
    p.add_argument("--no-probe", action="store_true", help="skip the checks that run notebooks in sandboxes")
    p.set_defaults(func=_grade_doctor)

    p = steps.add_parser("collect", help="file a folder or zip of notebooks (one per student)")
    p.add_argument("assignment", help="assignment id or chapter (ch01)")
    p.add_argument("submissions", help="a folder or zip: <student>.ipynb files, or a folder per student")
    p.add_argument("--update", action="store_true", help="replace filed submissions by newer ones (older ones are kept)")
    p.add_argument("--due", help="the assignment's due date, e.g. 2026-03-02T23:59+01:00 (no zone: local time)")
    p.add_argument("--names-from", choices=["auto", "file", "folder"], default="auto",
                   help="student ids from the file names, the folder names, or either (auto, the default)")
    p.set_defaults(func=_grade_collect)

    p = steps.add_parser("autograde", parents=[private], help="autograde the collected submissions in the sandbox")
    p.add_argument("assignment")
    p.add_argument("--jobs", type=int, default=2, help="notebooks graded at once (default 2)")
    p.add_argument("--student", action="append", help="grade only this student (repeatable): a regrade")
    p.add_argument("--wall-s", type=int, help="time limit of a whole notebook in seconds (default 180)")
    p.add_argument("--cell-s", type=int, help="time limit of one cell in seconds (default 30)")
    p.add_argument("--no-sandbox", action="store_true", help="run submissions unsandboxed (trusted notebooks only)")
    p.add_argument("--cold", action="store_true",
                   help="a new sandbox and kernel per submission instead of the warm sandboxes (slower, same isolation)")
    p.add_argument("--scheduler", help="a dask.distributed scheduler (tcp://host:8786) whose workers run the sandboxed "
                                       "notebooks (default: $HEPCOURSE_SCHEDULER, else this machine)")
    p.set_defaults(func=_grade_autograde)

    p = steps.add_parser("feedback", parents=[private], help="feedback pages without hidden tests")
    p.add_argument("assignment")
    p.set_defaults(func=_grade_feedback)

    p = steps.add_parser("export", parents=[private], help="the grades CSV, from the gradebook")
    p.add_argument("assignment")
    p.add_argument("--out", help="the CSV file (default grading/<assignment>-grades.csv)")
    p.add_argument("--roster", help="a CSV with columns id (course-system id) and submission (collected name)")
    p.add_argument("--id-headers", action="store_true", help="part columns headed by the grade ids alone")
    p.set_defaults(func=_grade_export)


def _data_parser(sub) -> None:
    steps = _command_with_steps(sub, "data", "the data sets: make, list, verify")
    p = steps.add_parser("make", help="generate data sets into data/ (Pythia 8 + FastJet)")
    p.add_argument("names", nargs="+", help="data set names (hepcourse data list)")
    p.add_argument("--events", type=int, help="accepted jets per process (default: the committed size)")
    p.add_argument("--seed", type=int, help="base seed (default: the committed seed)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (the output does not depend on it)")
    p.add_argument("--out", help="write this file instead of data/<name>.root (the MANIFEST is left alone)")
    p.add_argument("--alphas", type=float, help="ee-z-hadrons: TimeShower:alphaSvalue (default 0.1365)")
    p.add_argument("--scheduler", help="a dask.distributed scheduler (tcp://host:8786) whose workers generate the "
                                       "chunks (default: $HEPCOURSE_SCHEDULER, else --jobs local processes)")
    p.set_defaults(func=_data_make)
    steps.add_parser("list", help="the data sets and what is committed").set_defaults(func=_data_list)
    p = steps.add_parser("verify", help="check data/ against data/MANIFEST")
    p.add_argument("names", nargs="*", help="data sets (default: all)")
    p.set_defaults(func=_data_verify)


def _seed_group(text: str):
    """``--seed`` values: ``3`` or a group ``1,2``."""
    seeds = tuple(int(t) for t in text.split(","))
    return seeds[0] if len(seeds) == 1 else seeds


def _bench_parser(sub) -> None:
    steps = _command_with_steps(sub, "bench", "benchmarks: taggers, grading, peers")
    p = steps.add_parser("taggers", help="the benchmark table of the taggers of chapters 01-04")
    p.add_argument("--quick", action="store_true", help="tiny models on 2000 jets (writes _build/bench/)")
    p.add_argument("--only", nargs="*", help="only these (e.g. BDT PFN EdgeConv)")
    p.add_argument("--out", help="write the CSV and plot into this folder")
    p.add_argument("--level", nargs="*", choices=["particle", "detector"],
                   help="several training seeds per tagger at these levels, one row per (level, seed, tagger) "
                        "appended to ch04_taggers_seeds.csv as each finishes; rows already there are skipped")
    p.add_argument("--seed", nargs="*", type=_seed_group,
                   help="the training seeds of --level (default 0); a group 1,2 trains each tagger with 1 and 2 "
                        "before the next tagger (cheap taggers first: more rows finish if the run is stopped)")
    p.set_defaults(func=_bench_taggers)
    p = steps.add_parser("grading", help="grading throughput against sequential nbgrader")
    p.add_argument("--assignment", default="ch01_classification", help="assignment id or chapter (ch01)")
    p.add_argument("--n", type=int, default=200, help="submissions in the fake class")
    p.add_argument("--baseline", type=int, default=20, help="of them graded by plain sequential nbgrader")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--variants", help="wrong-answer variants: a YAML file (tests/submissions/ch01.yml or "
                                      "ch01_classification.yml) or the folder holding <assignment id>.yml")
    p.add_argument("--cold", action="store_true", help="grade with a new sandbox and kernel per submission (the old way)")
    p.set_defaults(func=_bench_grading)
    p = steps.add_parser("peers", help="our implementations against the libraries a physicist would otherwise use")
    p.add_argument("--only", nargs="*", help=f"only these comparisons (of: {', '.join(['edgeconv', 'attention', 'images', 'nsubjettiness', 'kinematics', 'flows', 'cfm', 'npe'])})")
    p.add_argument("--out", help="write the CSV into this folder (default data/benchmarks/, and the table of book/performance.md)")
    p.set_defaults(func=_bench_peers)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="hepcourse", description="Tools of the course Machine Learning for Particle Physics.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("start", help="copy an exercise into workspace/ to work on it")
    p.add_argument("assignment", help="chapter (ch01) or assignment id")
    p.add_argument("--force", action="store_true", help="overwrite your existing copy")
    p.set_defaults(func=_start)

    p = sub.add_parser("check", help="grade your notebook with the hidden tests (the file is not changed)")
    p.add_argument("notebook")
    p.add_argument("--sandbox", action="store_true", help="run it in the bubblewrap sandbox")
    p.set_defaults(func=_check)

    sub.add_parser("list", help="list the assignments").set_defaults(func=_list)

    p = sub.add_parser("release", help="regenerate exercises/ from solutions/ with nbgrader")
    p.add_argument("assignments", nargs="*", help="assignment ids (default: all)")
    p.add_argument("--force", action="store_true", help="overwrite releases edited by hand")
    p.set_defaults(func=_release)

    _grade_parser(sub)

    p = sub.add_parser("site", help="build the website (Jupyter Book) into _build/html")
    p.add_argument("--quick", action="store_true", help="quick mode (HEPCOURSE_QUICK=1)")
    p.add_argument("--no-solutions", action="store_true",
                   help="leave out the Solutions part (a classroom build, into its own folder _build/classroom)")
    p.add_argument("--path-output", help="build into PATH/_build/html")
    p.add_argument("--jobs", type=int, default=None, help="notebooks executed at once (default: the cores, at most 4)")
    p.set_defaults(func=_site)

    _data_parser(sub)
    _bench_parser(sub)
    return top


def _for_the_user(err: Exception) -> bool:
    """An error whose message says what to do (a traceback would not help)."""
    from .grading.errors import GradingError

    manifest = sys.modules.get("hepcourse.data.manifest")   # imported only by the data commands
    user = (GradingError, FileNotFoundError, FileExistsError) + ((manifest.DataFileError,) if manifest else ())
    return isinstance(err, user)


def main(argv: list[str] | None = None) -> int:
    """Run the command; errors the user can act on become a message and exit status 2."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as err:
        if not _for_the_user(err):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
