"""make gpu-check without a GPU: its dry run (the same steps on the CPU in quick mode) writes a report with
every step passed, runs the lectures in a copy of the course, and keeps to its time budget."""

import json

from hepcourse import config
from hepcourse.bench import gpu_check


def test_dry_run_writes_a_report_and_leaves_the_committed_files_alone(tmp_path):
    manifest = (config.DATA_DIR / "MANIFEST").read_bytes()
    checkpoints = sorted(p.name for p in config.CHECKPOINT_DIR.iterdir())
    lecture = "ch02_neural_networks/01_from_fits_to_networks.ipynb"
    steps = gpu_check.run(tmp_path, dry_run=True, steps=["gpu-tests", lecture], pytest_k="fused_attention")
    assert [(s.name, s.status) for s in steps] == [("gpu-tests", "passed"), (f"lecture:{lecture}", "passed")], \
        [(s.name, s.status, s.summary) for s in steps]
    assert "passed" in steps[0].summary                                    # pytest's summary line
    assert (tmp_path / "notebooks" / "01_from_fits_to_networks.ipynb").exists()
    report = (tmp_path / "report.md").read_text()
    assert "| gpu-tests | passed |" in report and "dry run on the CPU" in report
    assert json.loads((tmp_path / "report.json").read_text())["steps"][1]["status"] == "passed"
    assert (config.DATA_DIR / "MANIFEST").read_bytes() == manifest
    assert sorted(p.name for p in config.CHECKPOINT_DIR.iterdir()) == checkpoints


def test_steps_beyond_the_budget_are_skipped_and_reported(tmp_path):
    steps = gpu_check.run(tmp_path, dry_run=True, steps=["bench-taggers"], budget_s=1)
    assert steps[0].status == "skipped" and "budget" in steps[0].summary
    assert "| bench-taggers | skipped |" in (tmp_path / "report.md").read_text()


def test_course_copy_links_the_data_and_copies_what_retraining_writes(tmp_path):
    copy = gpu_check.course_copy(config.ROOT, tmp_path / "course")
    assert (copy / "_config.yml").exists() and (copy / "lectures").is_dir()
    assert (copy / "data" / "jets-top-qcd.root").is_symlink()
    assert not (copy / "data" / "MANIFEST").is_symlink() and (copy / "data" / "checkpoints").is_dir()
    assert not (copy / "data" / "checkpoints").is_symlink()
