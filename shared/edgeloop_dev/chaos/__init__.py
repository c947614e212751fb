"""Chaos suite: the pipeline under fault injection, checked against the plant's ground truth.

`ChaosPipeline` runs plant + Azurite + hub + every module (+ the `chaos_tap` witness); `scenarios` break
things; `checker` turns the files a run leaves into per-scenario figures; `report` prints them.
"""
