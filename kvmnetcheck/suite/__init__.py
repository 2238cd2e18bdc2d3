"""The checks as installed. The repository keeps them at its top (tests_host/, tests_guest/,
fixtures/); building the package maps them here (pyproject.toml [tool.setuptools.package-dir]), so
an installed suite carries them and no top-level `tests_*` or `fixtures` package is installed.
`kvm-netcheck` runs pytest on them with pytest.ini beside this file."""
