"""Tests of constructs_sm (pytest)."""
