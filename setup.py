# Metadata and pinned dependencies live in setup.cfg.
from setuptools import setup

setup()
