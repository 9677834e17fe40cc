"""Tests of the container-side runtime (``constructs_sm.runtime``): one module per module."""
