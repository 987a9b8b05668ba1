"""Compile quickfix's C++ sources on every core, printing one line per compiled file.

quickfix 1.16.0 builds one extension from 54 C++ files, and setuptools compiles the files of
an extension one after another: its own `build_ext --parallel` runs whole extensions side by
side, which does nothing for a single one. On two cores that serial build was most of a first
`make demo`. scripts/install_quickfix.sh copies this file into the unpacked, hash-checked sdist
and names `ParallelBuildExt` in the sdist's setup.cfg (`[options] cmdclass`, with the job count
in `[build_ext] parallel`); quickfix's sources, flags and setup.py stay as they are.

It also compiles without debug info (`-g0` after Python's `-g`; optimisation stays Python's
`-O3`): debug info cost about 40% more compiler time per file and made the wheel 24 MB, and
nothing here reads it. `[build_ext] debug = 1` keeps it. It is added to the extension's own
flags, not through CFLAGS/CXXFLAGS: setuptools lets those replace Python's flags (and -O3) whole.

The 5.8 MB SWIG wrapper (QuickfixPython.cpp) alone takes most of the time, so the files are
started largest first: the wrapper occupies one core from the start while the others share the
rest, and the build lasts about as long as the wrapper does.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from setuptools.command.build_ext import build_ext

PREFIX = "quickfix: "


def _say(line: str) -> None:
    """One progress line; install_quickfix.sh picks out lines starting with PREFIX.

    One write per line: print() writes the text and the newline apart, and the compiler
    commands setuptools logs from the other threads land in between."""
    sys.stderr.write(f"{PREFIX}{line}\n")
    sys.stderr.flush()


def _elapsed(start: float) -> str:
    seconds = int(time.monotonic() - start)
    return f"{seconds // 60}:{seconds % 60:02d}"


class ParallelBuildExt(build_ext):
    """build_ext whose compiler runs `parallel` compiler processes at once (default: all cores)."""

    def build_extension(self, ext) -> None:
        jobs = self.parallel if isinstance(self.parallel, int) and self.parallel > 0 else None
        jobs = jobs or os.cpu_count() or 1
        if not self.debug:
            ext.extra_compile_args = [*(ext.extra_compile_args or []), "-g0"]
        compiler = self.compiler
        serial_compile = compiler.compile

        def parallel_compile(
            sources,
            output_dir=None,
            macros=None,
            include_dirs=None,
            debug=False,
            extra_preargs=None,
            extra_postargs=None,
            depends=None,
        ):
            # Same steps as CCompiler.compile, with the per-file loop handed to a thread pool:
            # each _compile call waits on its own compiler process, so threads suffice.
            macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
                output_dir, macros, include_dirs, sources, depends, extra_postargs
            )
            cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)
            todo = [obj for obj in objects if obj in build]
            todo.sort(key=lambda obj: os.path.getsize(build[obj][0]), reverse=True)
            total = len(todo)
            start = time.monotonic()
            _say(f"compiling {total} files, {jobs} at a time")
            done = 0

            def one(obj: str) -> str:
                src, src_ext = build[obj]
                compiler._compile(obj, src, src_ext, cc_args, extra_postargs, pp_opts)
                return src

            with ThreadPoolExecutor(max_workers=jobs) as pool:
                pending = {pool.submit(one, obj) for obj in todo}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        if future.exception() is not None:
                            for other in pending:
                                other.cancel()
                            raise future.exception()
                        done += 1
                        name = os.path.basename(future.result())
                        _say(f"compiled {done}/{total} {name} ({_elapsed(start)})")
            _say(f"linking {ext.name} ({_elapsed(start)})")
            return objects

        compiler.compile = parallel_compile
        try:
            super().build_extension(ext)
        finally:
            compiler.compile = serial_compile
