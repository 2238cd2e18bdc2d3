"""Split the collector's output into its sections.

@@NONCE@@ KIND<TAB>ARG
...
@@NONCE@@ rc<TAB>STATUS
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Section:
    kind: str
    arg: str
    text: str
    rc: Optional[int]  # None when the section was cut off (output truncated)

    @property
    def ok(self) -> bool:
        return self.rc == 0


def split_sections(output: str, nonce: str) -> list[Section]:
    """Sections in order; text outside any section is ignored."""
    marker = f"@@{nonce}@@ "
    sections: list[Section] = []
    kind: Optional[str] = None
    arg = ""
    body: list[str] = []
    for line in output.split("\n"):
        if line.startswith(marker):
            head = line[len(marker) :]
            k, _, a = head.partition("\t")
            if k == "rc":
                if kind is not None:
                    sections.append(Section(kind, arg, _strip_framing(body), _int(a)))
                kind, arg, body = None, "", []
                continue
            if kind is not None:  # a section that never got its rc line
                sections.append(Section(kind, arg, _strip_framing(body), None))
            kind, arg, body = k, a, []
        elif kind is not None:
            body.append(line)
    if kind is not None:
        sections.append(Section(kind, arg, _strip_framing(body), None))
    return sections


def _strip_framing(body: list[str]) -> str:
    # the collector adds one blank line before each marker
    text = "\n".join(body)
    return text[:-1] if text.endswith("\n") else text


def _int(s: str) -> Optional[int]:
    try:
        return int(s.strip())
    except ValueError:
        return None
