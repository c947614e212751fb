"""The engine: ONNX Runtime sessions, micro-batching, loaded models and their batch functions."""
