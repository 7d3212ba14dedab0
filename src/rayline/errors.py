"""rayline's exceptions: one root, split by who is at fault.

::

    RaylineError                      everything rayline raises on purpose
    ├── UserInputError                the caller must change something (also a ValueError)
    │   ├── PipelineDefinitionError   a pipeline, step or expression is malformed
    │   ├── ParameterError            a parameter value is missing, of the wrong type or not allowed
    │   ├── SchemaError               data does not match a declared schema (feature groups, models)
    │   └── ConfigError               a setting (URI, environment variable) is wrong
    │   └── TooLargeError             an upload or request body is over the size limit
    ├── NotFoundError                 a named thing does not exist (also a LookupError)
    ├── ConflictError                 the thing exists already, or is in the wrong state for this
    │   └── LeaseLostError            another owner took the execution over (its fencing token)
    ├── AuthenticationError           no API token, or one that is unknown or revoked
    ├── PermissionDeniedError         the identity's role does not allow this
    ├── StepFailedError               a user's script or function raised; carries its traceback
    ├── ExecutionFailedError          an execution ended Failed or Stopped (raised by ``wait()``)
    └── BackendError                  a storage, Ray or serving backend failed underneath us

Every message says what is wrong, where, and how to fix it.
"""

from __future__ import annotations


class RaylineError(Exception):
    """Root of every error rayline raises on purpose."""


class UserInputError(RaylineError, ValueError):
    """The caller gave something rayline cannot use; the message says how to fix it."""


class PipelineDefinitionError(UserInputError):
    """A pipeline definition is malformed: unknown step, cycle, undeclared output, ..."""


class ParameterError(UserInputError):
    """A pipeline parameter is missing, of the wrong type, or not among the allowed values."""


class SchemaError(UserInputError):
    """Data does not match the schema it is checked against."""


class ConfigError(UserInputError):
    """A setting (environment variable, URI) is invalid."""


class TooLargeError(UserInputError):
    """An upload or request body is larger than the server takes."""


class NotFoundError(RaylineError, LookupError):
    """A named resource (pipeline, execution, feature group, model, endpoint) does not exist."""


class ConflictError(RaylineError):
    """The resource exists already, or its state does not allow the operation."""


class LeaseLostError(ConflictError):
    """The execution's lease is held by another owner now (its fencing token is newer): this
    owner must stop writing and let go of the execution."""


class AuthenticationError(RaylineError):
    """The request carries no API token, or one that is unknown, malformed or revoked."""


class PermissionDeniedError(RaylineError):
    """The authenticated identity's role (or the four-eyes rule) does not allow this."""


class StepFailedError(RaylineError):
    """A user's step raised. ``user_traceback`` holds the traceback of the user's code."""

    def __init__(self, message: str, *, user_traceback: str = "") -> None:
        super().__init__(message)
        self.user_traceback = user_traceback


class ExecutionFailedError(RaylineError):
    """An execution did not succeed; raised by ``Execution.wait()``."""

    def __init__(self, message: str, *, execution_id: str, status: str) -> None:
        super().__init__(message)
        self.execution_id = execution_id
        self.status = status


class BackendError(RaylineError):
    """A backend (database, Redis, Ray, Ray Serve, file system) failed underneath rayline."""
