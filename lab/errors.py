"""The lab's one exception."""

from __future__ import annotations

from typing import Optional


class LabError(Exception):
    """A lab operation failed; carries the command's output when there was one."""

    def __init__(self, message: str, stdout: str = "", stderr: str = "", returncode: Optional[int] = None):
        details = message
        if returncode is not None:
            details += " (rc=%s)" % returncode
        if stdout and stdout.strip():
            details += "\n--- stdout ---\n" + stdout.strip()
        if stderr and stderr.strip():
            details += "\n--- stderr ---\n" + stderr.strip()
        super().__init__(details)
        self.stdout = stdout
        self.stderr = stderr
        self.returncode = returncode
