"""A test-only CDK app for the offline engine's end-to-end tests (tests/test_local_e2e.py)."""
