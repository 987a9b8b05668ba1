"""``python -m bench``: truex-qf against bare QuickFIX in one run (see :mod:`bench.compare`)."""

from bench.compare import run

if __name__ == "__main__":
    run()
