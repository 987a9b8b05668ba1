"""A real terminal for tests that check what a person sees: tmux plays a command's output and
reads back its screen and scrollback (``capture-pane``), cursor movements and erasures applied.
Counting lines in raw output would pass even for a view that erases them after writing them."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.support.tools import required

WIDTH = 100
needs_tmux = pytest.mark.skipif(
    shutil.which("tmux") is None and not required("TMUX"),
    reason="tmux (Debian's tmux package) reads the screen back",
)


def terminal_screen(command: str, tmp_path: Path, timeout_s: float = 120.0) -> list[str]:
    """Run ``command`` (a shell line) in a fresh tmux terminal WIDTH columns wide; when it
    ends, the terminal's scrollback and screen, wrapped lines joined, trailing blanks gone."""
    socket = f"lv-{uuid.uuid4().hex[:8]}"
    conf = tmp_path / "tmux.conf"
    conf.write_text("set-option -g history-limit 100000\n")
    tmux = ["tmux", "-L", socket, "-f", str(conf)]
    done = "__LIVE_VIEW_TEST_DONE__"
    shell = f"{command}; echo {done} $?; sleep 600"
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(WIDTH), "-y", "30", "sh", "-c", shell], check=True
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-J", "-S", "-"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.splitlines()
            if any(line.startswith(done) for line in screen):
                break
            assert time.monotonic() < deadline, "\n".join(screen[-40:])
            time.sleep(0.2)
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)
    lines = [line.rstrip() for line in screen]
    end = next(i for i, line in enumerate(lines) if line.startswith(done))
    assert lines[end] == f"{done} 0", "\n".join(lines)
    return lines[:end]
