"""Tests of the case-file (φάκελος) export."""
