"""Reports: results.json, JUnit properties, pytest-html extras and the terminal summary."""
