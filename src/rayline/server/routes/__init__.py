"""The REST API's routers, one module per resource, each with a ``router`` (a FastAPI
``APIRouter``); the app mounts them under ``API_PREFIX``. A new resource is a module here and
one line in ``ROUTERS``."""

API_PREFIX = "/api/v1"

#: The largest whole number a route takes for a version, an id or a count: what the metadata
#: DB's INTEGER columns hold (a larger one is a 422, not an overflow deep in the driver).
MAX_INT = 2**31 - 1

ROUTERS = (
    "system",
    "pipelines",
    "code",
    "executions",
    "schedules",
    "feature_groups",
    "models",
    "model_packages",
    "endpoints",
    "lineage",
    "experiments",
    "webhooks",
    "tokens",
    "audit",
)
