"""What a team decides about findings: which fail the gate, which are waived, and until when.

Parsed once at start-up; any mistake in a policy or waiver file stops the run
with the file and line at fault, before a single host is reached.
"""

from .config import POLICY_FILE, SYSTEM_POLICY, TeamPolicy, find_policy, load_policy, looked_for
from .source import PolicyError
from .waivers import Match, Waiver, WaiverSet, load_waivers

__all__ = [
    "POLICY_FILE",
    "SYSTEM_POLICY",
    "Match",
    "PolicyError",
    "TeamPolicy",
    "Waiver",
    "WaiverSet",
    "find_policy",
    "load_policy",
    "load_waivers",
    "looked_for",
]
