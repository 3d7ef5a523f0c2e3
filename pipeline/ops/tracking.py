"""MLflow runs and the model registry. With `pipeline.ops.pyfunc` (the served model's MLflow class), the
only modules that import mlflow.

Tracking URI: `MLFLOW_TRACKING_URI` when set, else `sqlite:///<root>/mlflow/mlflow.db` with
artifacts in `<root>/mlflow/artifacts/`. One parent run per pipeline execution; one child run
per configuration (baselines included) so the MLflow compare view lines them up; the best
detector and the real-only baseline logged as xgboost models; the best registered as a new
version of the model with alias `challenger`. The `champion` alias is moved only by
`pipeline.ops.retrain`, through `set_alias`. Provenance (commit, hashes, versions) comes from
`pipeline.core.provenance`, which needs no MLflow.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.errors import TrackingError
from pipeline.core.files import finite_or_none
from pipeline.core.paths import Paths
from pipeline.core.provenance import git_commit, json_hash, package_versions, version
from pipeline.experiment.metrics import DIFF_CI, RECALL_CI

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "20")

import mlflow  # noqa: E402
import mlflow.models  # noqa: E402
import mlflow.pyfunc  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

CHAMPION, CHALLENGER = "champion", "challenger"


# ----------------------------------------------------------------------------------------
# Store and connection
# ----------------------------------------------------------------------------------------
#: the user's choice of tracking store (a server); unset -> the project's local SQLite store
URI_ENV = "MLFLOW_TRACKING_URI"


def tracking_uri(root: Path) -> str:
    uri = os.environ.get(URI_ENV, "").strip()
    if uri:
        return uri
    paths = Paths.at(root)
    paths.mlflow_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{paths.mlflow_db.resolve()}"


def default_artifact_location(root: Path, uri: str) -> str | None:
    """Artifacts of a local SQLite store live in mlflow/artifacts/; a server decides for itself."""
    if uri.startswith("sqlite:"):
        art = Paths.at(root).mlflow_artifacts.resolve()
        art.mkdir(parents=True, exist_ok=True)
        return art.as_uri()
    return None


def _reachable(uri: str, timeout: float = 5.0) -> str | None:
    """None if the store answers, else a short reason."""
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as r:
                return None if r.status == 200 else f"HTTP {r.status}"
        except urllib.error.HTTPError as e:
            return f"HTTP {e.code}"
        except (urllib.error.URLError, OSError) as e:
            return str(getattr(e, "reason", e))
    return None


def connect(root: Path, retries: int = 3, wait_s: float = 2.0) -> tuple[MlflowClient, str]:
    """A client for the tracking store, after a bounded retry; TrackingError if unreachable."""
    uri = tracking_uri(root)
    reason = None
    for attempt in range(retries + 1):
        reason = _reachable(uri)
        if reason is None:
            break
        if attempt < retries:
            time.sleep(wait_s)
    if reason is not None:
        raise TrackingError(
            f"MLflow tracking server {uri} unreachable after {retries + 1} tries ({reason}); start it, "
            "or set MLFLOW_TRACKING_URI to a running server (unset it to use the local "
            "mlflow/mlflow.db), then rerun `dvc repro`: nothing else is recomputed"
        )
    _set_process_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    try:
        client.search_experiments(max_results=1)
    except Exception as e:  # noqa: BLE001 - any store failure becomes one line
        raise TrackingError(
            f"MLflow tracking store {uri} refused a request ({_short(e)}); check the URI and the server's logs"
        ) from None
    return client, uri


def _set_process_uri(uri: str) -> None:
    """Point MLflow's fluent API (runs, model logging) at `uri` for this process. MLflow 3 also writes the URI into
    MLFLOW_TRACKING_URI, which `tracking_uri` reads as the user's choice: a later `connect` for another project in
    the same process (a notebook, a test session) would then be sent to this store. The variable is put back as
    the user left it."""
    before = os.environ.get(URI_ENV)
    mlflow.set_tracking_uri(uri)
    if before is None:
        os.environ.pop(URI_ENV, None)
    else:
        os.environ[URI_ENV] = before


def _short(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def ensure_experiment(client: MlflowClient, name: str, root: Path, uri: str) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        if exp.lifecycle_stage == "deleted":
            client.restore_experiment(exp.experiment_id)
        return exp.experiment_id
    return client.create_experiment(name, artifact_location=default_artifact_location(root, uri))


# ----------------------------------------------------------------------------------------
# Publishing
# ----------------------------------------------------------------------------------------
def _flatten(d: dict, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        elif not isinstance(v, (str, bool)):
            number = finite_or_none(v)
            if number is not None:
                out[key] = number
    return out


def metric_key(name: str) -> str:
    """A name as MLflow accepts it in a metric key: characters other than letters, digits, '.', '_' and '-' become
    '_' (a combined red-team tactic `a+b` is logged as `a_b`)."""
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in str(name))


class _Batch:
    """A run's metrics and tags gathered, then sent in one `log_batch` (MLflow splits it into requests of the sizes
    it allows): one request per child run instead of one per value, which against a tracking server is one HTTP
    round trip each (a child run of the built-in data carries a few hundred values)."""

    def __init__(self) -> None:
        self.metrics: list[Any] = []
        self.tags: dict[str, str] = {}
        self._now = int(time.time() * 1000)

    def metric(self, key: str, value: float, step: int = 0) -> None:
        from mlflow.entities import Metric

        self.metrics.append(Metric(key, value, self._now, step))

    def tag(self, key: str, value: str) -> None:
        self.tags[key] = value

    def send(self, run_id: str, client: MlflowClient | None = None) -> None:
        """To the store of `client` (default: this process's tracking URI, as the fluent API's runs)."""
        from mlflow.entities import RunTag

        (client or MlflowClient()).log_batch(
            run_id, metrics=self.metrics, tags=[RunTag(k, v) for k, v in self.tags.items()]
        )


def _log_rows(batch: _Batch, rows: pd.DataFrame, key_of: Callable[[pd.Series], str], names: tuple[str, ...]) -> None:
    """Each row's finite `names` as metrics `<key>.<name>` and its verdict as the tag `<key>.verdict`."""
    for _, r in rows.iterrows():
        key = key_of(r)
        for m in names:
            fv = finite_or_none(r.get(m))
            if fv is not None:
                batch.metric(f"{key}.{m}", fv)
        batch.tag(f"{key}.verdict", str(r["verdict"]))


def _find_existing(client: MlflowClient, experiment_id: str, content_hash: str) -> Any | None:
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.content_hash = '{content_hash}' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    return runs[0] if runs else None


def publish(
    bundle: dict[str, Any],
    root: Path,
    experiment: str,
    model_name: str,
    retries: int = 3,
    wait_s: float = 2.0,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Log one pipeline execution. `bundle` is assembled by the publish stage from the reports:

    comparison (DataFrame), metrics (dict), summary_path, plot_dir, files (list of report paths),
    quality (name -> dict), fits (name -> dict), detector_params (dict), data_fingerprint, params_hash,
    source, models: {"best": (config_row, model, X_example), "baseline": (...)}.
    """
    client, uri = connect(root, retries, wait_s)
    exp_id = ensure_experiment(client, experiment, root, uri)
    content_hash = json_hash([bundle["metrics"], bundle["data_fingerprint"], bundle["params_hash"]])
    existing = _find_existing(client, exp_id, content_hash)
    if existing is not None:
        log(f"publish: run {existing.info.run_id} already holds these results; nothing new logged")
        try:
            record = json.loads(existing.data.tags.get("publish_record", "{}"))
        except json.JSONDecodeError:
            record = {}
        return record or {
            "tracking_uri": uri,
            "experiment_id": exp_id,
            "parent_run_id": existing.info.run_id,
            "content_hash": content_hash,
        }

    table: pd.DataFrame = bundle["comparison"]
    metrics: dict = bundle["metrics"]
    best_cfg = metrics.get("best_config", "baseline")
    best_aug = metrics.get("test", {}).get("best_augmented", {})
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    verdicts = metrics.get("verdicts", {})
    # the run's one word: helps when a configuration helps, else the best augmented configuration's verdict
    verdict_text = (
        "helps"
        if verdicts.get("helps")
        else str(best_aug.get("verdict", "no clear effect"))
        if verdicts
        else "baselines only"
    )
    run_name = f"{date} | {bundle['source_short']} | best: {best_cfg} | {verdict_text}"
    tags = {
        "git_commit": git_commit(root),
        "data_fingerprint": bundle["data_fingerprint"],
        "params_hash": bundle["params_hash"],
        "content_hash": content_hash,
        "data_source": bundle["source"],
        "headline_metric": metrics.get("headline_metric", ""),
        "best_config": best_cfg,
        "verdict": verdict_text,
        "mlflow.note.content": bundle["summary_text"],
        **{f"version.{k}": v for k, v in package_versions().items()},
    }
    try:
        with mlflow.start_run(experiment_id=exp_id, run_name=run_name, tags=tags) as parent:
            pid = parent.info.run_id
            mlflow.log_metrics(_flatten(metrics.get("test", {}), "test."))
            decisions = bundle.get("decisions") or {}
            thresholds = dict(decisions.get("thresholds") or {})
            shares = thresholds.pop("training_missing", None) or {}  # keyed by user names: made metric-safe below
            mlflow.log_metrics(
                _flatten(
                    {
                        **{
                            k: v
                            for k, v in decisions.items()
                            if k == "test_decisions" or k.endswith(("_fpr_valid", "_fpr_test"))
                        },
                        "thresholds": thresholds,
                    },
                    "serving.",
                )
            )
            mlflow.log_metrics({f"serving.training_missing.{metric_key(f)}": float(v) for f, v in shares.items()})
            mlflow.log_params(
                {
                    "experiment.generators": ",".join(bundle["generators"]),
                    "experiment.shares": ",".join(f"{s:g}" for s in bundle["shares"]),
                    "experiment.seeds": ",".join(str(s) for s in bundle["seeds"]),
                    **{f"detector.{k}": v for k, v in bundle["detector_params"].items()},
                }
            )
            for f in bundle["files"]:
                mlflow.log_artifact(str(f))
            for f in bundle.get("unseen_files", []):
                mlflow.log_artifact(str(f), artifact_path="unseen")
            for f in bundle.get("redteam_files", []):
                mlflow.log_artifact(str(f), artifact_path="redteam")
            if bundle.get("plot_dir") and Path(bundle["plot_dir"]).exists():
                mlflow.log_artifacts(str(bundle["plot_dir"]), artifact_path="plots")
            children = {}
            for _, row in table.iterrows():
                children[row["config"]] = _log_child(row, exp_id, pid, bundle)
            mlflow.set_tag("best_run", children.get(best_cfg, ""))
            models = {}
            for role, spec in bundle["models"].items():
                models[role] = _log_model(spec, role)
            registered = (
                _register(client, models["best"]["model_uri"], model_name, pid, best_cfg) if "best" in models else {}
            )
            record = {
                "tracking_uri": uri,
                "experiment": experiment,
                "experiment_id": exp_id,
                "parent_run_id": pid,
                "parent_run_name": run_name,
                "child_run_ids": children,
                "models": models,
                "registered_model": registered,
                "best_config": best_cfg,
                "best_augmented": best_aug.get("config"),
                "content_hash": content_hash,
            }
            if uri.startswith(("http://", "https://")):
                record["ui_url"] = f"{uri.rstrip('/')}/#/experiments/{exp_id}/runs/{pid}"
            mlflow.log_dict(record, "publish_record.json")
            text = json.dumps(record)
            if len(text) > 4900:  # tag values are capped; keep the essentials
                text = json.dumps(
                    {
                        k: record[k]
                        for k in (
                            "tracking_uri",
                            "experiment_id",
                            "parent_run_id",
                            "registered_model",
                            "best_config",
                            "content_hash",
                        )
                    }
                )
            mlflow.set_tag("publish_record", text)
    except TrackingError:
        raise
    except Exception as e:  # noqa: BLE001 - a store failure mid-way is one line, not a trace
        raise TrackingError(
            f"publishing to MLflow at {uri} failed ({_short(e)}); the pipeline's reports are intact, "
            "rerun `dvc repro` once the tracking store works"
        ) from None
    return record


def _log_child(row: pd.Series, exp_id: str, parent_id: str, bundle: dict) -> str:
    cfg = row["config"]
    tags = {
        "mlflow.parentRunId": parent_id,
        "kind": row["kind"],
        "verdict": str(row["verdict"]),
        "verdict_adjusted": str(row.get("verdict_adjusted", "")),
        "config": cfg,
    }
    with mlflow.start_run(experiment_id=exp_id, run_name=row["title"], nested=True, tags=tags) as child:
        batch = _Batch()
        gen = row["generator"] if isinstance(row["generator"], str) else None
        params = {
            "kind": row["kind"],
            "generator": gen or "none",
            "share": row["share"],
            "n_real_fraud": int(row["n_real_fraud"]),
            "n_synthetic": int(row["n_synthetic"]),
            "seeds": row["seeds"],
        }
        if isinstance(row.get("fit_seeds"), str) and row["fit_seeds"]:
            params["fit_seeds"] = row["fit_seeds"]
        if isinstance(gen, str) and gen in bundle["fits"]:
            fit = bundle["fits"][gen]
            params["generator.type"] = fit.get("type", gen)
            for k, v in (fit.get("parameters") or {}).items():
                params[f"generator.{k}"] = str(v)[:500]
            batch.metric("generator.fit_seconds", float(fit.get("fit_seconds") or 0.0))
        mlflow.log_params(params)
        numeric: dict[str, float] = {}
        columns = {str(col): v for col, v in row.items()}
        for col, v in columns.items():
            if col.endswith("_per_seed") or col in ("share", "n_seeds", "n_fits", "n_real_fraud", "n_synthetic"):
                continue
            val = finite_or_none(v) if not isinstance(v, (str, bool)) else None
            if val is not None:
                numeric[col] = val
        for key, val in numeric.items():
            batch.metric(key, val)
        # per-detector values as metric history (step = detector seed; `fit<F>.seed.*` per generator fit when the
        # generator has several fit seeds)
        fits = str(row.get("fit_seeds", "") if isinstance(row.get("fit_seeds"), str) else "").split()
        seeds = str(row["seeds"]).split()
        prefixes = [f"fit{fits[i * len(fits) // len(seeds)]}." if len(fits) > 1 else "" for i in range(len(seeds))]
        for col, v in columns.items():
            if col.endswith("_per_seed") and isinstance(v, str) and v:
                name = "seed." + col[: -len("_per_seed")]
                for prefix, seed, text in zip(prefixes, seeds, v.split()):
                    fv = finite_or_none(text)
                    if fv is not None:
                        batch.metric(prefix + name, fv, step=int(seed))
        # the report tables' rows of this configuration: per segment, per held-out variant (real-only: the
        # baseline's run), per red-team tactic (not "none": unattacked)
        seg, unseen, redteam = (bundle.get(k) for k in ("segments", "unseen", "redteam"))
        if seg is not None and not seg.empty:
            _log_rows(
                batch,
                seg[seg["config"] == cfg],
                lambda r: "segment." + metric_key(r["segment_name"]),
                ("recall", "diff", "diff_lo", "diff_hi", "lift", "lift_lo", "lift_hi", "n_frauds"),
            )
        if unseen is not None and not unseen.empty:
            name = "real-only" if row["kind"] == "baseline" else cfg
            _log_rows(
                batch,
                unseen[unseen["config"] == name],
                lambda r: "unseen." + metric_key(f"{r['variant_column']}={r['variant']}"),
                (
                    *RECALL_CI,
                    *DIFF_CI,
                    "seen_recall",
                    "known_recall",
                    "known_diff",
                    "n_test_frauds",
                ),
            )
        if redteam is not None and not redteam.empty:
            _log_rows(
                batch,
                redteam[(redteam["config"] == cfg) & (redteam["tactic"] != "none")],
                lambda r: "redteam." + metric_key(r["tactic"]),
                ("recall", "drop", "diff", "diff_lo", "diff_hi"),
            )
        if isinstance(gen, str) and gen in bundle["quality"]:
            mlflow.log_dict(bundle["quality"][gen], "quality.json")
            q = bundle["quality"][gen]
            for k in (
                "quality_score",
                "quality_score_drop",
                "exact_copy_share",
                "dcr_ratio",
                "detection_auc",
                "detection_auc_excess",
            ):
                fv = finite_or_none(q.get(k))
                if fv is not None:
                    batch.metric(f"quality.{k}", fv)
            batch.tag("quality_passed", str(q.get("passed")))
        batch.send(child.info.run_id)
        return child.info.run_id


def serving_signature(schema) -> Any:
    """Inputs: every feature by the user's name (categoricals as string, real numbers as double, integer features as
    `any`); outputs: decisions (`pipeline.ops.serving.OUTPUT_COLUMNS`).

    Integer features are `any` because MLflow 3's schema enforcement has no numeric type that takes both an int64
    column and one with a null: `double` refuses int64 ("Can not safely convert int64 to float64": the prepared test
    rows of a count column), `long` refuses float64 and nullable Int64, so a null in a count would fail. `Scorer`
    checks those columns itself (a value that is not a number is an error naming the column and row).

    The price, measured (MLflow 3.17, `_enforce_schema` on 1,000 test rows, 2026-12-01): MLflow checks an `any`
    column value by value, about 10 ms per 1,000 rows for the built-in data's 8 counts, where `double` for every
    number would take 0.4 ms; no column type of 3.17 takes both int64 columns and nulls without that loop, so `any`
    stays (the served 1,000-row request pays it; tests/bench/results/serving.md)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec
    from mlflow.types import Schema as MlflowSchema
    from mlflow.types.schema import AnyType

    from pipeline.ops.serving import OUTPUT_COLUMNS

    inputs: list[Any] = [
        ColSpec("string" if f.is_categorical else AnyType() if f.is_integer else "double", f.name)
        for f in schema.features
    ]
    score, decision, reasons = OUTPUT_COLUMNS
    outputs: list[Any] = [ColSpec("double", score), ColSpec("string", decision), ColSpec("string", reasons)]
    return ModelSignature(inputs=MlflowSchema(inputs), outputs=MlflowSchema(outputs))


def _log_model(spec: dict[str, Any], role: str) -> dict[str, Any]:
    """Log one detector as the serving model (artifacts: the XGBoost model, schema.json, its thresholds)."""
    import tempfile

    from pipeline.core.files import write_json
    from pipeline.core.schema import Schema

    reqs = [
        f"mlflow=={version('mlflow')}",
        f"xgboost=={version('xgboost-cpu') or version('xgboost')}",
        f"pandas=={version('pandas')}",
        f"numpy=={version('numpy')}",
        f"pyarrow=={version('pyarrow')}",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        thresholds = Path(tmp) / "thresholds.json"
        write_json(thresholds, spec["thresholds"])
        info = mlflow.pyfunc.log_model(
            name=f"detector-{role}",
            python_model=str(Path(__file__).resolve().parent / "serving_model.py"),
            artifacts={
                "model": str(spec["model_file"]),
                "schema": str(spec["schema_file"]),
                "thresholds": str(thresholds),
            },
            code_paths=[str(Path(__file__).resolve().parents[1])],  # the `pipeline` package travels with the model
            signature=serving_signature(Schema.load(spec["schema_file"])),
            input_example=spec["example"],
            pip_requirements=reqs,
        )
    return {"model_uri": info.model_uri, "model_id": getattr(info, "model_id", None)}


def _register(client: MlflowClient, model_uri: str, name: str, run_id: str, config: str) -> dict[str, Any]:
    try:
        client.get_registered_model(name)
    except Exception:  # noqa: BLE001 - not found
        client.create_registered_model(name, description="XGBoost fraud detector from the augmentation pipeline")
    mv = mlflow.register_model(model_uri, name, tags={"config": config, "run_id": run_id})
    client.set_registered_model_alias(name, CHALLENGER, mv.version)  # the champion alias moves only in retrain
    return {"name": name, "version": str(mv.version), "aliases": [CHALLENGER]}


def _alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except Exception:  # noqa: BLE001 - no such alias
        return None


# ----------------------------------------------------------------------------------------
# Registry access for retraining
# ----------------------------------------------------------------------------------------
def alias_version(root: Path, name: str, alias: str, retries: int = 3, wait_s: float = 2.0) -> str | None:
    client, _ = connect(root, retries, wait_s)
    return _alias_version(client, name, alias)


def load_registered(root: Path, name: str, alias: str) -> Any:
    """The registered model's `pipeline.ops.serving.Scorer` (what `mlflow models serve` runs)."""
    connect(root, 0, 0)
    try:
        return mlflow.pyfunc.load_model(f"models:/{name}@{alias}").unwrap_python_model().scorer
    except Exception as e:  # noqa: BLE001
        raise TrackingError(f"cannot load model {name}@{alias} from the registry ({_short(e)})") from None


def set_alias(root: Path, name: str, alias: str, model_version: str, retries: int = 3, wait_s: float = 2.0) -> None:
    client, _ = connect(root, retries, wait_s)
    client.set_registered_model_alias(name, alias, model_version)


def log_retrain(root: Path, experiment: str, record: dict[str, Any], parent_run_id: str | None) -> None:
    """Attach the retrain decision and drift figures to the pipeline's parent run (or a new run)."""
    client, uri = connect(root, 0, 0)
    exp_id = ensure_experiment(client, experiment, root, uri)
    metrics = _flatten(
        {k: v for k, v in record.items() if k in ("champion_score", "challenger_score", "drift")}, "retrain."
    )
    metrics.update(_flatten({metric_key(t): v for t, v in (record.get("redteam") or {}).items()}, "retrain.redteam."))
    tags = {
        "retrain.decision": str(record.get("decision")),
        "retrain.time": str(record.get("time")),
        "retrain.failed_checks": ", ".join(record.get("failed_checks") or []) or "none",
    }
    batch = _Batch()
    for k, v in metrics.items():
        batch.metric(k, v)
    if parent_run_id:
        batch.tags.update(tags)
        batch.send(parent_run_id, client)
        client.log_dict(parent_run_id, record, "retrain.json")
    else:
        run = client.create_run(exp_id, run_name=f"retrain {record.get('time')}: {record.get('decision')}", tags=tags)
        batch.send(run.info.run_id, client)
        client.log_dict(run.info.run_id, record, "retrain.json")
        client.set_terminated(run.info.run_id)
