"""Conclusions drawn from several facts, shared by more than one check.

Pure functions of the facts (facts/model/): no commands, no text parsing, no report text. A conclusion
that needs a fact the host did not give raises model.Unreadable.
"""
