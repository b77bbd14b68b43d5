"""Ready-made services built on the platform."""
