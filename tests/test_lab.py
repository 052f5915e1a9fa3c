"""`make lab`: JupyterLab with nbgrader's extensions serves this course's formgrader."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hepcourse.config import ROOT
from hepcourse.grading.course import assignments


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    port, token = _free_port(), "hepcourse-test"
    exe = Path(sys.executable).with_name("jupyter")
    cmd = [str(exe) if exe.exists() else shutil.which("jupyter"), "lab", "--no-browser", f"--port={port}",
           "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}", f"--notebook-dir={ROOT}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTER_CONFIG_DIR": str(home / "config"),
           # the formgrader's gradebook runs `alembic` by name, as `make lab` allows (PATH has .venv/bin)
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {proc.stdout.read()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("jupyter lab did not start within 90 s")
    yield base, token
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_formgrader_lists_the_course_assignments(lab):
    base, token = lab
    with urllib.request.urlopen(f"{base}/formgrader/api/assignments?token={token}", timeout=30) as r:
        listed = {a["name"]: a for a in json.load(r)}
    for assignment in assignments():
        assert assignment in listed, f"formgrader lists {sorted(listed)}"
        assert listed[assignment]["source_path"] == f"solutions/{assignment}"
        assert listed[assignment]["release_path"] == f"exercises/{assignment}"


def test_lab_serves_the_course_files(lab):
    base, token = lab
    with urllib.request.urlopen(f"{base}/api/contents/exercises?token={token}", timeout=30) as r:
        names = {item["name"] for item in json.load(r)["content"]}
    assert set(assignments()) <= names
