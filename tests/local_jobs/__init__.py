"""Scripts the offline engine's job tests run as processing jobs (tests/test_local_jobs.py)."""
