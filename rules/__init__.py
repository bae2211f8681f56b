"""The default rule pack, installed as the package ``monitor._pack`` (see pyproject.toml).

Only the YAML files here are rules; this file exists so that the folder is importable in
editable installs too. Load the pack with ``load_rules("default")``.
"""
