"""Local process management for `make run` and the test suite (private Redis, workers, web)."""
