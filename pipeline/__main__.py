import sys

from pipeline.cli import main

if __name__ == "__main__":  # Dask worker processes may import this module
    from pipeline.core.warmstart import run_via_server

    # a command (a stage, or `retrain`, whose `dvc repro` then runs its stages the same way) runs in a fork of the
    # warm-start server when there is one (None: there is none, or it declined)
    warm = run_via_server("pipeline", sys.argv[1:])
    sys.exit(main() if warm is None else warm)
