"""Import pipeline definitions written by the SageMaker Python SDK as rayline pipelines.

``importer.import_sagemaker_definition`` translates a definition (``Pipeline.definition()`` of
SDK v2) into rayline steps; ``container.ContainerScript`` runs a processing script unchanged,
its SageMaker container paths (``/opt/ml/processing/...``) mapped to the step's directories.
``rayline.Pipeline.from_sagemaker_definition`` and ``rayline pipeline import`` call them.
"""
