"""The README's simulator section, run as written (issue 16's "Done when").

``truex-qf simulate`` from the README's marked block runs in one process (on free ports: the
README uses TrueX's default ones, which another test or program may hold). The ``export``
lines it prints are eval'd by a shell that has nothing else but ``PATH`` and a
``TRUEX_STATE_DIR``, and that shell runs the README's client commands: ``run`` must fill orders
and end with none working, ``test-order`` and ``doctor`` must exit 0. Every subprocess is
bounded by a timeout and killed in teardown.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from truex_qf.domain.netutil import free_port

README = Path(__file__).resolve().parents[2] / "README.md"
TRUEX_QF = str(Path(sys.executable).parent / "truex-qf")
README_PORTS = {"19484": "oe", "20484": "md", "9742": "rest"}
START_TIMEOUT_S = 30.0
CLIENT_TIMEOUT_S = 120.0


def readme_block(name: str) -> str:
    """The body of the first ``sh`` code block after ``<!-- tested: NAME``."""
    text = README.read_text(encoding="utf-8")
    marker = text.find(f"<!-- tested: {name}")
    assert marker >= 0, f"README.md has no block marked 'tested: {name}'"
    block = re.compile(r"```sh\n(.*?)```", re.S).search(text, marker)
    assert block is not None, f"no sh block after the '{name}' marker"
    return block.group(1)


def readme_commands(name: str) -> list[list[str]]:
    """The block's commands as argv lists, comments dropped, the README's truex-qf resolved."""
    commands = []
    for line in readme_block(name).splitlines():
        argv = shlex.split(line, comments=True)
        if not argv:
            continue
        assert argv[0] == ".venv/bin/truex-qf", f"not a truex-qf command: {line!r}"
        commands.append([TRUEX_QF, *argv[1:]])
    return commands


def bare_env(state_dir: Path, **extra: str) -> dict[str, str]:
    """Nothing of this test's environment but PATH: no TRUEX_*, no DATABASE_URL, no REDIS_URL."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TRUEX_STATE_DIR": str(state_dir),
        **extra,
    }


class Simulator:
    """A ``truex-qf simulate`` subprocess whose stdout is read line by line on a thread."""

    def __init__(self, argv: list[str], env: dict[str, str], stderr_path: Path) -> None:
        self.stderr_file = stderr_path.open("w")
        self.process = subprocess.Popen(
            argv,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            text=True,
            start_new_session=True,
        )
        self.stderr_path = stderr_path
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def read_until(self, pattern: str, timeout_s: float = START_TIMEOUT_S) -> list[str]:
        """Every stdout line up to the first matching ``pattern``; fails at the timeout."""
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if re.search(pattern, line):
                return list(self.seen)
        raise AssertionError(
            f"simulate printed no line matching {pattern!r} within {timeout_s:g} s "
            f"(exit {self.process.poll()}):\n" + "\n".join(self.seen) + "\n" + self.stderr()
        )

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")[-3000:]

    def stop(self) -> int | None:
        """SIGTERM (a clean stop), then SIGKILL to the whole group if it does not exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=15)
        self.stderr_file.close()
        return self.process.returncode


@pytest.fixture
def simulators() -> Iterator[list[Simulator]]:
    started: list[Simulator] = []
    yield started
    for simulator in started:
        simulator.stop()


def start_simulator(
    simulators: list[Simulator], argv: list[str], tmp_path: Path, **env: str
) -> tuple[Simulator, dict[str, int]]:
    """``argv`` on free ports (appended options win over the README's defaults)."""
    ports = {role: free_port() for role in README_PORTS.values()}
    full = [*argv, "--oe-port", str(ports["oe"]), "--md-port", str(ports["md"])]
    full += ["--rest-port", str(ports["rest"])]
    name = f"simulate-{len(simulators)}"
    simulator = Simulator(full, bare_env(tmp_path / name, **env), tmp_path / f"{name}.stderr")
    simulators.append(simulator)
    return simulator, ports


def exports_of(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("export ")]


def run_with_exports(
    exports: list[str], argv: list[str], state_dir: Path, **env: str
) -> subprocess.CompletedProcess[str]:
    """``argv`` in a shell that evals ``exports`` first and has nothing else set."""
    script = "\n".join([*exports, f"exec {shlex.join(argv)}"])
    return subprocess.run(
        ["bash", "-c", script],
        env=bare_env(state_dir, **env),
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S,
    )


@pytest.mark.timeout(300)
def test_the_readme_simulator_recipe_as_written(simulators, tmp_path) -> None:
    (simulate_argv,) = readme_commands("simulator-recipe")
    assert simulate_argv[1:] == ["simulate", "--flow", "--seed", "BTC-PYUSD=100000"]
    simulator, ports = start_simulator(simulators, simulate_argv, tmp_path)
    printed = simulator.read_until(r"^export TRUEX_CLIENT_ID=")

    # What it printed is what the README shows, on the ports this test chose.
    shown = readme_block("simulator-exports")
    for port, role in README_PORTS.items():
        shown = re.sub(rf"(?<=[=:]){port}\b", str(ports[role]), shown)
    assert exports_of(printed) == exports_of(shown.splitlines())
    names = [line.split()[1].split("=")[0] for line in exports_of(printed)]
    assert names == [
        "TRUEX_FIX_HOST",
        "TRUEX_ORDER_ENTRY_PORT",
        "TRUEX_MARKET_DATA_PORT",
        "TRUEX_REST_URL",
        "TRUEX_API_KEY",
        "TRUEX_SECRET_KEY",
        "TRUEX_SENDER_COMP_ID",
        "TRUEX_CLIENT_ID",
    ]

    run_argv, test_order_argv, doctor_argv = readme_commands("simulator-client")
    assert run_argv[1] == "run" and "--duration" in run_argv
    assert test_order_argv[1:] == ["test-order"] and doctor_argv[1:] == ["doctor"]
    client_state = tmp_path / "client"
    exports = exports_of(printed)

    run = run_with_exports(exports, run_argv, client_state)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    fills = re.search(r"^fills: (\d+)", run.stdout, re.M)
    assert fills is not None, run.stdout
    assert int(fills.group(1)) > 0, run.stdout
    assert re.search(r"^working orders after shutdown: 0$", run.stdout, re.M), run.stdout

    test_order = run_with_exports(exports, test_order_argv, client_state)
    assert test_order.returncode == 0, test_order.stdout + test_order.stderr[-3000:]
    assert "test-order: OK" in test_order.stdout

    doctor = run_with_exports(exports, doctor_argv, client_state)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert re.search(r"^OK\s+REST health\s", doctor.stdout, re.M), doctor.stdout
    assert not re.search(r"^(FAIL|SKIP)", doctor.stdout, re.M), doctor.stdout

    assert simulator.process.poll() is None, simulator.stderr()
    assert simulator.stop() == 0, simulator.stderr()


@pytest.mark.timeout(180)
def test_credentials_from_the_environment_are_named_not_printed(simulators, tmp_path) -> None:
    secret = "user-secret-0123456789abcdef"
    key = "11111111-2222-4333-8444-555555555555"
    simulator, _ = start_simulator(
        simulators,
        [TRUEX_QF, "simulate", "--seed", "BTC-PYUSD=100000"],
        tmp_path,
        TRUEX_API_KEY=key,
        TRUEX_SECRET_KEY=secret,
        TRUEX_SENDER_COMP_ID="MYFIRM_1",
    )
    printed = simulator.read_until(r"^export TRUEX_CLIENT_ID=")
    assert "export TRUEX_API_KEY TRUEX_SECRET_KEY" in printed
    assert "export TRUEX_SENDER_COMP_ID=MYFIRM_1" in printed
    assert not any(secret in line or key in line for line in printed)

    # The client gets the same key and secret from its own environment, the rest from the
    # printed lines; the simulator's log never shows the secret either.
    result = run_with_exports(
        exports_of(printed),
        [TRUEX_QF, "test-order"],
        tmp_path / "client",
        TRUEX_API_KEY=key,
        TRUEX_SECRET_KEY=secret,
    )
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert simulator.stop() == 0
    assert secret not in simulator.stderr()
    for path in (tmp_path / "simulate-0").rglob("*"):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRUEX_QF, *args], env=env, capture_output=True, text=True, timeout=CLIENT_TIMEOUT_S
    )


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (["--oe-port", "x"], {}, "--oe-port"),
        (["--md-port", "0"], {}, "--md-port"),
        (["--rest-port", "65536"], {}, "--rest-port"),
        (["--oe-port", "20001", "--md-port", "20001"], {}, "different ports"),
        (["--flow"], {}, "--flow"),
        (["--seed", "DOGE-USD=1"], {}, "--seed"),
        (["--seed", "BTC-PYUSD=1e99999"], {}, "--seed"),
        (["--host", "nosuch.invalid"], {}, "--host"),
        ([], {"TRUEX_API_KEY": "k"}, "TRUEX_SECRET_KEY"),
        ([], {"TRUEX_CLIENT_ID": "abc"}, "TRUEX_CLIENT_ID"),
    ],
)
def test_a_bad_option_or_setting_is_one_line_and_exit_2(tmp_path, args, env, named) -> None:
    result = _cli("simulate", *args, env=bare_env(tmp_path / "state", **env))
    assert result.returncode == 2, result.stdout + result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ") and named in result.stderr
    assert "Traceback" not in result.stderr


def test_help_covers_every_option_and_names_the_variables(tmp_path) -> None:
    result = _cli("simulate", "--help", env=bare_env(tmp_path / "state"))
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for variable in (
        "TRUEX_API_KEY",
        "TRUEX_SECRET_KEY",
        "TRUEX_SENDER_COMP_ID",
        "TRUEX_CLIENT_ID",
        "TRUEX_STATE_DIR",
    ):
        assert variable in text
    options = re.findall(r"^\s+(--[a-z-]+)(.*)$", result.stdout, re.M)
    assert {name for name, _ in options} >= {
        "--host",
        "--oe-port",
        "--md-port",
        "--rest-port",
        "--seed",
        "--flow",
    }
    for name, rest in options:
        assert rest.strip(), f"{name} has no help text"
    assert "9742" in text and "19484" in text and "20484" in text


@pytest.mark.parametrize("option", ["--oe-port", "--rest-port"])
def test_a_port_taken_is_one_line_naming_the_option(tmp_path, option) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = {name: str(free_port()) for name in ("--oe-port", "--md-port", "--rest-port")}
        ports[option] = str(taken.getsockname()[1])
        args = [part for pair in ports.items() for part in pair]
        result = _cli("simulate", *args, env=bare_env(tmp_path / "state"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
    assert "Address already in use" in result.stderr and option in result.stderr
    assert "export" not in result.stdout
