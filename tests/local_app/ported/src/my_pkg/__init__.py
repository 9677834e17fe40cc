"""Helpers shipped beside preprocessing.py (/opt/ml/processing/input/code/my_pkg/ on SageMaker)."""
