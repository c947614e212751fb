"""Where models come from and what they declare: repository, store, metadata, twin delivery."""
