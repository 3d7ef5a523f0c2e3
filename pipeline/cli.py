"""Command line: `python -m pipeline <command>`.

Every `PipelineError` becomes one line on stderr (`error: ...`) and exit code 2 (3 for a
retrain that finds the lock taken). Other exceptions are bugs and keep their traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from pipeline.core.errors import ConfigError, PipelineError

#: when set to a folder, each stage writes there the params keys it read (`<stage>.json`): the
#: DVC-coverage test checks them against the `params` of the stage in dvc.yaml
RECORD_ENV = "PIPELINE_RECORD_PARAMS"


def _seed(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"a fit seed is a whole number >= 0, got {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pipeline", description="Synthetic fraud augmentation pipeline (stages run by `dvc repro`)."
    )
    p.add_argument("--root", default=".", help="project root holding params.yaml (default: current folder)")
    p.add_argument("--params", default=None, help="params file (default: <root>/params.yaml)")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    sub.add_parser("prepare", help="load, featurize and split the data")
    for name, text in (("fit", "fit generator G on the seed set"), ("sample", "sample G's synthetic pool and gate it")):
        sp = sub.add_parser(name, help=text)
        sp.add_argument("generator", help="generator name as configured under `generators:` in params.yaml")
        sp.add_argument("fit_seed", type=_seed, help="the generator's fit seed (one of augment.fit_seeds)")
    sub.add_parser("train", help="train XGBoost detectors for every generator x share x seed and the baselines")
    sub.add_parser("evaluate", help="score every detector on the real test rows; metrics, CIs, verdicts, plots")
    sub.add_parser("publish", help="log the reports to MLflow and register the best detector")
    sub.add_parser("scarcity", help="the scarcity sweep: its cells (cached), table, plot and summary")
    sub.add_parser("unseen", help="leave-one-variant-out: does synthetic fraud catch a variant never trained on?")
    sub.add_parser("redteam", help="attacker tactics on the test frauds: recall under attack per configuration")
    rt = sub.add_parser("retrain", help="scheduled retraining: rerun on new data, promote only a better detector")
    rt.add_argument(
        "--no-advance", action="store_true", help="simulated source: do not move the simulated window forward"
    )
    return p


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from pipeline.config.params import load_params
    from pipeline.core.paths import Paths

    paths = Paths.at(Path(args.root).resolve())
    if args.command == "retrain":
        import pipeline.ops.retrain as retrain

        return retrain.run(paths, params_file=args.params, advance=not args.no_advance)
    params = load_params(args.params or paths.params)
    if args.command in ("fit", "sample") and args.generator not in params["generators"]:
        raise ConfigError(
            f"params.yaml: generators.{args.generator}: not configured; configured: {', '.join(params['generators'])}"
        )
    record_dir = os.environ.get(RECORD_ENV)
    reads: set[str] = set()
    if record_dir:
        from pipeline.config.recording import recording

        params = recording(params, reads)
    # every other command is the stage module of that name: pipeline/stages/<command>.py, whose run() takes the
    # params and paths (fit and sample: also the generator and its fit seed)
    stage = importlib.import_module(f"pipeline.stages.{args.command}")
    stage.run(params, paths, *((args.generator, args.fit_seed) if args.command in ("fit", "sample") else ()))
    if record_dir:
        from pipeline.core.files import write_json

        stage_id = args.command + (f"@{args.generator}-{args.fit_seed}" if getattr(args, "generator", None) else "")
        write_json(Path(record_dir) / f"{stage_id}.json", sorted(reads))
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    try:
        return run(argv)
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
