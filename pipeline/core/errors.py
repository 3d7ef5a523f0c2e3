"""Errors the pipeline raises on bad input or configuration.

Every error carries a one-line message that names the problem and the fix.
`pipeline.cli` turns any `PipelineError` into that line on stderr and exit code 2.
"""


class PipelineError(Exception):
    """Base class: a problem the user can fix; reported as one line, exit code 2."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


class ConfigError(PipelineError):
    """params.yaml has an unknown key, a wrong type or an out-of-range value."""


class DataError(PipelineError):
    """The input table cannot be used as it is (missing file, bad labels, too few frauds...)."""


class GeneratorError(PipelineError):
    """A generator cannot be fitted or sampled on the given seed set."""


class TrackingError(PipelineError):
    """The MLflow tracking server cannot be reached or refused a request."""


class LockError(PipelineError):
    """Another retrain holds the lock."""

    exit_code = 3
