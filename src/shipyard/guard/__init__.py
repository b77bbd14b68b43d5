"""Guards on the invoke path: rate limits (and, as they arrive, validation and content filters)."""
