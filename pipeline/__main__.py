import sys

from pipeline.cli import main

if __name__ == "__main__":  # Dask worker processes may import this module
    from pipeline.core.warmstart import run_via_server

    # a stage runs in a fork of the warm-start server when there is one (None: there is none, or it declined);
    # `retrain` starts and supervises its own `dvc repro`, whose stages then use the server
    warm = None if "retrain" in sys.argv[1:] else run_via_server("pipeline", sys.argv[1:])
    sys.exit(main() if warm is None else warm)
