"""The `inference` module: ONNX Runtime serving of sensor-window and vision models with micro-batching."""
