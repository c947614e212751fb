"""The `camera_ingest` module: frames from RTSP, video files, image folders or USB cameras to `frames`."""
