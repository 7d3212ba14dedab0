"""The REST API's routers, one module per resource, each with a ``router`` (a FastAPI
``APIRouter``); the app mounts them under ``API_PREFIX``. A new resource is a module here and
one line in ``ROUTERS``."""

API_PREFIX = "/api/v1"

ROUTERS = (
    "system",
    "pipelines",
    "code",
    "executions",
    "featuregroups",
    "models",
    "endpoints",
    "lineage",
    "experiments",
    "schedules",
    "webhooks",
    "tokens",
    "audit",
)
