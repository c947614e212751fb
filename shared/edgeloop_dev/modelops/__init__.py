"""The retraining loop's tools: pull a labelled dataset from Blob, package and publish model versions."""
