"""Vision: JPEG decode and letterbox, output decoders per model family, NMS."""
