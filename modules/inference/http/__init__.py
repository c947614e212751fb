"""The REST adapter: POST /predict, GET /health, multipart uploads."""
