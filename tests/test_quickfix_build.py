"""The first-build helpers: scripts/quickfix_build_ext.py on a small extension, and the
install script's one-line refusal of a bad job count.

The real quickfix build takes minutes, so the build_ext class is tried here on a three-file C
extension wired exactly as install_quickfix.sh wires quickfix's sdist (cmdclass and parallel in
setup.cfg): every file compiled, one progress line each, largest first, without debug info,
and the extension it links imports and works.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SETUP_CFG = """\
[metadata]
name = demo_ext
version = 0

[options]
cmdclass =
\tbuild_ext = quickfix_build_ext.ParallelBuildExt

[build_ext]
parallel = 1
"""

SETUP_PY = """\
from setuptools import Extension, setup

setup(ext_modules=[Extension("_demo", ["module.c", "small.c", "big.c"])])
"""

MODULE_C = """\
#include <Python.h>
int small_value(void);
int big_value(void);
static PyObject *total(PyObject *self, PyObject *args) {
    return PyLong_FromLong(small_value() + big_value());
}
static PyMethodDef methods[] = {{"total", total, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_demo", NULL, -1, methods};
PyMODINIT_FUNC PyInit__demo(void) { return PyModule_Create(&module); }
"""


def _make_project(path: Path) -> None:
    shutil.copy(ROOT / "scripts" / "quickfix_build_ext.py", path)
    (path / "setup.cfg").write_text(SETUP_CFG)
    (path / "setup.py").write_text(SETUP_PY)
    (path / "module.c").write_text(MODULE_C)
    (path / "small.c").write_text("int small_value(void) { return 2; }\n")
    padding = "".join(f"static int unused_{i}(void) {{ return {i}; }}\n" for i in range(300))
    (path / "big.c").write_text(padding + "int big_value(void) { return 40; }\n")


def test_build_ext_compiles_every_file_with_progress_largest_first_without_debug_info(
    tmp_path: Path,
) -> None:
    _make_project(tmp_path)
    build = subprocess.run(
        [sys.executable, "setup.py", "build_ext", "--inplace"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    progress = [line for line in build.stderr.splitlines() if line.startswith("quickfix: ")]
    # One job, so the order is the submission order: largest file first.
    assert [re.sub(r"\(\d+:\d\d\)$", "(t)", line) for line in progress] == [
        "quickfix: compiling 3 files, 1 at a time",
        "quickfix: compiled 1/3 big.c (t)",
        "quickfix: compiled 2/3 module.c (t)",
        "quickfix: compiled 3/3 small.c (t)",
        "quickfix: linking _demo (t)",
    ]
    compile_commands = [line for line in build.stdout.splitlines() if " -c " in line]
    assert len(compile_commands) == 3, build.stdout
    assert all(line.split()[-1] == "-g0" for line in compile_commands), compile_commands
    run = subprocess.run(
        [sys.executable, "-c", "import _demo; print(_demo.total())"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.stdout.strip() == "42", run.stderr


def test_install_script_refuses_a_bad_job_count_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "install_quickfix.sh"), str(tmp_path / "no-venv")],
        env={"PATH": "/usr/bin:/bin", "TRUEX_QF_BUILD_JOBS": "two"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: TRUEX_QF_BUILD_JOBS must be a whole number of compiler jobs, 1 or more, not 'two'"
    ]
