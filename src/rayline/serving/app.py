"""The Ray Serve application every endpoint runs (``import_path: rayline.serving.app:app``).

Endpoints are deployed declaratively from their records, so this module only binds the
deployment; replicas, resources and the model version come from the endpoint's config.
"""

from ray import serve

from rayline.serving.deployment import ModelServer

DEPLOYMENT_NAME = "ModelServer"

app = serve.deployment(ModelServer, name=DEPLOYMENT_NAME).bind()
