"""Reference pages of the checks, made by `make docs` from kvmnetcheck/catalog (installed as
kvmnetcheck.checkdocs)."""
