"""Errors of the inference runtime: one base class carrying its HTTP status.

Hierarchy (each class fixes ``status_code`` and a short machine ``code``)::

    InferstackError (500, "internal")
    ├── BundleError (400, "invalid_bundle")      bad inferstack.yaml / artifact, at build or load
    │   └── MissingExtraError                    framework package not installed
    ├── InvalidInput (400, "invalid_input")       malformed JSON, wrong shape, dtype, NaN
    ├── Unauthorized (401, "unauthorized")        missing or wrong API key
    ├── NotFound (404, "not_found")               unknown route or model name
    ├── MethodNotAllowed (405, "method_not_allowed")
    ├── PayloadTooLarge (413, "payload_too_large")
    ├── ExplainBudgetExceeded (422, "explain_budget_exceeded") an explanation over its cost budget
    ├── NotExplainable (422, "not_explainable")   no explainer fits this model or bundle
    ├── UnsupportedMediaType (415, "unsupported_media_type")
    ├── ModelNotReady (503, "not_ready")          model still loading or failed to load
    ├── BodyTimeout (408, "body_timeout")        the body did not arrive in time (closes)
    ├── ShuttingDown (503, "shutting_down")      the bounded SIGTERM drain ended first
    ├── RequestTimeout (504, "timeout")           request took longer than the timeout
    ├── PredictionError (500, "prediction_failed") the model raised on valid input
    └── ConfigError (500, "invalid_config")      a runtime setting is invalid

The HTTP layer turns any ``InferstackError`` into ``{"error": {"code", "message"}}``
with its status (see ``inferstack.runtime.http.error_response``); anything else is a
500 with a generic message and is logged with its traceback.
"""

from __future__ import annotations


class InferstackError(Exception):
    """Base of every runtime error; ``status_code`` is the HTTP status it maps to."""

    status_code: int = 500
    code: str = "internal"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, dict[str, str]]:
        """The JSON error body sent to clients."""
        return {"error": {"code": self.code, "message": self.message}}


class BundleError(InferstackError):
    """A bundle is invalid: unknown key, wrong framework, missing artifact, schema mismatch."""

    status_code = 400
    code = "invalid_bundle"


class MissingExtraError(BundleError):
    """A framework's Python package is not installed; the message names the extra."""

    def __init__(self, framework: str, package: str) -> None:
        super().__init__(
            f"framework '{framework}' needs the package '{package}': "
            f"pip install 'inferstack[{framework}]'"
        )
        self.framework = framework


class InvalidInput(InferstackError):  # noqa: N818 - named after the HTTP status
    """The request body does not match the bundle's input schema."""

    status_code = 400
    code = "invalid_input"


class Unauthorized(InferstackError):  # noqa: N818 - named after the HTTP status
    """No API key, or one that matches none of the configured hashes."""

    status_code = 401
    code = "unauthorized"


class NotFound(InferstackError):  # noqa: N818 - named after the HTTP status
    """Unknown route, or a model name other than the one served."""

    status_code = 404
    code = "not_found"


class MethodNotAllowed(InferstackError):  # noqa: N818 - named after the HTTP status
    """The route exists but not with this HTTP method."""

    status_code = 405
    code = "method_not_allowed"


class PayloadTooLarge(InferstackError):  # noqa: N818 - named after the HTTP status
    """The request body is larger than the configured maximum."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(InferstackError):  # noqa: N818 - named after the HTTP status
    """A Content-Type the route cannot decode."""

    status_code = 415
    code = "unsupported_media_type"


class ModelNotReady(InferstackError):  # noqa: N818 - named after the HTTP status
    """The model is still loading, or failed to load."""

    status_code = 503
    code = "not_ready"


class RequestTimeout(InferstackError):  # noqa: N818 - named after the HTTP status
    """The request was not answered within the configured timeout."""

    status_code = 504
    code = "timeout"


class PredictionError(InferstackError):
    """The model raised on input that passed the schema."""

    status_code = 500
    code = "prediction_failed"


class ConfigError(InferstackError):
    """A runtime setting is invalid (for example an unreadable API key file)."""

    status_code = 500
    code = "invalid_config"


class BodyTimeout(InferstackError):  # noqa: N818 - named after the HTTP status
    """The request body did not arrive within ``INFERSTACK_BODY_TIMEOUT_S`` (408, closes)."""

    status_code = 408
    code = "body_timeout"


class ShuttingDown(InferstackError):  # noqa: N818 - named after the condition
    """The bounded SIGTERM drain ended before this request was answered (503)."""

    status_code = 503
    code = "shutting_down"


class ExplainBudgetExceeded(InferstackError):  # noqa: N818 - named after the condition
    """An explanation request would cost more model evaluations than its budget (422)."""

    status_code = 422
    code = "explain_budget_exceeded"


class NotExplainable(InferstackError):  # noqa: N818 - named after the condition
    """No explainer fits this model or bundle (string features, no reference sample)."""

    status_code = 422
    code = "not_explainable"
