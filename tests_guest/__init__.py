"""Guest checks: one test function per check (see kvmnetcheck/catalog)."""
