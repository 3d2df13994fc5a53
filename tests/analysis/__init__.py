"""Tests of the Django-free analysis package."""
