"""The live view keeps every log line: on a terminal they scroll above the footer, elsewhere
the status is plain lines, and every line is in the rotating log file.

"On screen" means what a person sees: the bytes are played into a real terminal (tmux) and its
screen and scrollback are read back (``capture-pane``). Counting the lines in the raw output
would pass even for a view that erases them, since erased lines were written first.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shlex
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from tests.support.terminal import WIDTH, needs_tmux, terminal_screen
from truex_qf.app import logsetup
from truex_qf.app.live_view import LiveView

# a handler that raises on the log's listener thread ends that thread: every later line lost
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")


@pytest.fixture
def fresh_logging(monkeypatch):
    """configure_logging is once per process: start from none, leave none behind."""
    logsetup.stop_logging()
    monkeypatch.setattr(logsetup, "_console", None)
    yield
    logsetup.stop_logging()


def assert_in_order(expected: list[str], screen: list[str]) -> None:
    position = 0
    for line in expected:
        try:
            position = screen.index(line, position) + 1
        except ValueError:
            raise AssertionError(
                f"not on screen (in order): {line!r}\n" + "\n".join(screen)
            ) from None


def footer_lines(turn: int) -> list[str]:
    return [f"up {turn}s | ACTIVE (within limits)", f"BTC-PYUSD  fills {turn} vol {turn}"]


@needs_tmux
def test_log_lines_scroll_above_the_footer_on_a_terminal(tmp_path, fresh_logging):
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=WIDTH)
    logsetup.configure_logging(tmp_path / "state", console=console)
    view = LiveView(console, refresh_per_s=50)  # rich's thread redraws between the lines
    assert view.in_place
    log = logging.getLogger("truex_qf.mm")
    levels = [logging.INFO, logging.INFO, logging.WARNING, logging.INFO, logging.ERROR]
    for turn in range(60):
        log.log(levels[turn % len(levels)], "fill number %d", turn)
        view.show(footer_lines(turn), "ACTIVE")
        if turn % 7 == 0:
            time.sleep(0.03)  # let a refresh land between two lines now and then
    view.close()  # waits until every queued line is printed, then draws the footer last
    logsetup.stop_logging()
    (tmp_path / "out").write_text(output.getvalue())

    screen = terminal_screen(f"cat {shlex.quote(str(tmp_path / 'out'))}", tmp_path)

    logged = [line for line in screen if "fill number" in line]
    assert len(logged) == 60
    names = {logging.INFO: "INFO   ", logging.WARNING: "WARNING", logging.ERROR: "ERROR  "}
    for turn, line in enumerate(logged):
        assert line.endswith(f"{names[levels[turn % 5]]} truex_qf.mm: fill number {turn}"), line
    # the footer is drawn once, below the last line, as it was last shown
    assert screen[-2:] == footer_lines(59)
    assert screen.index(logged[-1]) < len(screen) - 3
    assert sum(line.startswith("up ") for line in screen) == 1


def test_off_a_terminal_the_status_is_plain_lines(tmp_path, fresh_logging):
    output = io.StringIO()
    console = Console(file=output, force_terminal=False, width=WIDTH)
    logsetup.configure_logging(None, console=console)
    view = LiveView(console)
    assert not view.in_place
    logging.getLogger("truex_qf.mm").warning("a warning")
    view.show(footer_lines(3))
    view.close()
    logsetup.stop_logging()
    lines = output.getvalue().splitlines()
    assert "\x1b" not in output.getvalue()
    assert lines[0].endswith("WARNING truex_qf.mm: a warning")
    assert lines[1].endswith(
        "INFO    truex_qf.app.live_view: up 3s | ACTIVE (within limits) | BTC-PYUSD  fills 3 vol 3"
    )
    assert len(lines) == 2


def test_every_line_is_in_the_rotating_file(tmp_path, fresh_logging, monkeypatch):
    monkeypatch.setattr(logsetup, "LOG_FILE_MAX_BYTES", 600)
    console = Console(file=io.StringIO(), force_terminal=False, width=WIDTH)
    logsetup.configure_logging(tmp_path / "state", console=console)
    sent = []
    for number in range(100):
        name, level = [
            ("truex_qf.mm", logging.INFO),
            ("truex_qf.trading.risk", logging.WARNING),
            ("truex_qf.app.runner", logging.ERROR),
            ("truex_qf.fix", logging.INFO),  # session lines: in the file
            ("truex_qf.fix.events", logging.INFO),  # on the console only with -v; in the file
        ][number % 5]
        logging.getLogger(name).log(level, "line %d", number)
        sent.append(f"{logging.getLevelName(level):<7} {name}: line {number}")
    logging.getLogger("truex_qf.mm").debug("not without -v")
    logging.getLogger(logsetup.MESSAGES_LOGGER).info("8=FIXT.1.1|35=0|")  # its own file
    logsetup.stop_logging()

    log_dir = tmp_path / "state" / "log"
    files = sorted(log_dir.glob(f"{logsetup.LOG_FILE}*"), key=_rotation_age, reverse=True)
    assert len(files) == 1 + logsetup.LOG_FILE_BACKUPS  # it rotated, and kept 5
    lines = [line for path in files for line in path.read_text().splitlines()]
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
    assert all(re.match(stamp, line) for line in lines)
    kept = [line[24:] for line in lines]
    assert kept == sent[-len(kept) :]  # the newest lines, in order, none missing
    assert len(kept) > 50
    assert "35=0" in (log_dir / logsetup.MESSAGES_FILE).read_text()
    console_lines = console.file.getvalue().splitlines()
    assert len(console_lines) == 80  # all but fix.events (shown with -v only)
    assert console_lines[3].endswith("INFO    truex_qf.fix: line 3")
    assert not any("truex_qf.fix.events" in line for line in console_lines)


def _rotation_age(path: Path) -> int:
    suffix = path.name.rsplit(".", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


@needs_tmux
def test_demo_on_a_terminal_keeps_every_log_line_and_shows_the_footer(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUEX_", "DATABASE_URL"))}
    state = tmp_path / "state"
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if re.match(r"\w+$", k))
    command = (
        f"env -i {exports} TRUEX_STATE_DIR={shlex.quote(str(state))} "
        f"{shlex.quote(sys.executable)} -m truex_qf.app.cli demo --duration 6"
    )
    screen = terminal_screen(command, tmp_path)

    file_lines = (state / "demo" / "log" / logsetup.LOG_FILE).read_text().splitlines()
    shown = [line for line in file_lines if not re.search(r" truex_qf\.fix\.\w", line)]
    fills = [line for line in shown if re.search(r"truex_qf\.mm: fill BTC-PYUSD", line)]
    (summary_fills,) = (int(x.split()[1]) for x in screen if x.startswith("fills: "))
    assert fills and len(fills) == summary_fills
    assert any(" WARNING " in line for line in shown)  # the state changes: ACTIVE -> HALTED
    assert_in_order(shown, screen)
    # the footer's last drawing stays above the summary, with every field
    top = max(i for i, line in enumerate(screen) if re.match(r"up [\dmhs]+ \| ", line))
    footer = "\n".join(screen[top : top + 4])
    assert re.search(r"up [\dmhs]+ \| HALTED \(SHUTDOWN\)", footer), footer
    assert re.search(rf"fills {summary_fills} vol [\d.]+ BTC", footer), footer
    assert re.search(r"BTC-PYUSD  book [\d.]+ / [\d.]+  fv [\d.]+  ours ", footer), footer
    assert re.search(r"working, (no spread|[\d.]+ bps)\)", footer), footer
    assert re.search(r"pos -?[\d.]+ BTC  pnl -?[\d.]+ PYUSD \(realized -?[\d.]+", footer), footer
    # after it, the summary (and what the simulator logs as it stops), no line of the run
    after = screen[top + 4 :]
    assert any(line.startswith("orders sent: ") for line in after)
    assert not set(after) & set(shown[: shown.index(fills[-1]) + 1])
