"""anomaly_filter: turns model scores, raw signals and OPC UA data quality into few, trustworthy events."""
