"""What pyproject.toml cannot say: the packages under monitor/ are found as usual, and the
top-level rules/ folder (the default rule pack, edited there) joins them as ``monitor._pack``.

Everything else (metadata, dependencies, package data) is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["monitor", "monitor.*"]), "monitor._pack"],
    package_dir={"monitor._pack": "rules"},
)
