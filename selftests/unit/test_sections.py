"""split_sections: the framing the collector prints around every fact.

The collector writes each section as

    <blank line>
    @@NONCE@@ KIND<TAB>ARG
    ...body...
    <blank line>
    @@NONCE@@ rc<TAB>STATUS
"""

from kvmnetcheck.facts.parsers.sections import Section, split_sections

NONCE = "5f0c9e2a71b3d846"

# What `sh -c "$(cat collector.sh)" collector 5f0c9e2a71b3d846 0` prints for the first
# few sections on a small Debian 12 host (ssh banner noise before the first marker).
OUTPUT = (
    "Warning: Permanently added 'kvm01' (ED25519) to the list of known hosts.\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ meta\t\n"
    "collector=1\n"
    "hostname=kvm01\n"
    "uid=0\n"
    "clk_tck=100\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ rc\t0\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ bridge\tvirbr0\n"
    "stp_state=1\n"
    "forward_delay=200\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ rc\t0\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ tc_filter\tvirbr0 egress\n"
    "Error: Cannot find specified qdisc on specified device.\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ rc\t2\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ done\t\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ rc\t0\n"
)

# The same output cut off in the middle of the bridge section (ssh dropped, or a
# timeout killed the session).
TRUNCATED = (
    "\n"
    "@@5f0c9e2a71b3d846@@ meta\t\n"
    "collector=1\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ rc\t0\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ bridge\tvirbr0\n"
    "stp_state=1\n"
    "forward_del"
)

# A section that never got its rc line, immediately followed by the next header
# (the collector was killed in `run` between the command and `end`).
MISSING_RC = (
    "\n"
    "@@5f0c9e2a71b3d846@@ iptables_save\t\n"
    "*filter\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ nft_tables\t\n"
    "table inet filter\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ rc\t0\n"
)

# A file on the host that carries a section marker with some other nonce (for
# example a log of an earlier kvm-netcheck run): it must stay body text.
FORGED = (
    "\n"
    "@@5f0c9e2a71b3d846@@ file\t/etc/network/interfaces\n"
    "auto lo\n"
    "@@0000000000000000@@ rc\t0\n"
    "@@0000000000000000@@ bridge\tevil0\n"
    "stp_state=0\n"
    "@@5f0c9e2a71b3d846@@rc\t0\n"
    " @@5f0c9e2a71b3d846@@ rc\t0\n"
    "iface lo inet loopback\n"
    "\n"
    "@@5f0c9e2a71b3d846@@ rc\t0\n"
)

BLANK = ""

GARBLED = "\x00\x01@@@@ \t\n@@5f0c9e2a71b3d846@\n@@ rc\t0\nrandom noise\n"


def test_normal_output():
    sections = split_sections(OUTPUT, NONCE)
    assert [(s.kind, s.arg) for s in sections] == [
        ("meta", ""),
        ("bridge", "virbr0"),
        ("tc_filter", "virbr0 egress"),
        ("done", ""),
    ]
    meta, bridge, tcf, done = sections
    assert meta.text == "collector=1\nhostname=kvm01\nuid=0\nclk_tck=100"
    assert meta.rc == 0 and meta.ok
    assert bridge.text == "stp_state=1\nforward_delay=200"
    assert tcf.rc == 2 and not tcf.ok
    assert tcf.text == "Error: Cannot find specified qdisc on specified device."
    assert done.text == "" and done.rc == 0


def test_text_outside_sections_is_ignored():
    sections = split_sections(OUTPUT, NONCE)
    assert all("Permanently added" not in s.text for s in sections)
    # noise between an rc line and the next header belongs to no section either
    noisy = OUTPUT.replace("\n@@5f0c9e2a71b3d846@@ bridge", "stray line\n@@5f0c9e2a71b3d846@@ bridge")
    sections = split_sections(noisy, NONCE)
    assert [s.kind for s in sections] == ["meta", "bridge", "tc_filter", "done"]
    assert sections[1].text == "stp_state=1\nforward_delay=200"


def test_truncated_last_section_has_no_rc():
    sections = split_sections(TRUNCATED, NONCE)
    assert [s.kind for s in sections] == ["meta", "bridge"]
    assert sections[0].rc == 0
    assert sections[1].rc is None and not sections[1].ok
    assert sections[1].text == "stp_state=1\nforward_del"


def test_section_missing_rc_line_is_closed_by_next_header():
    sections = split_sections(MISSING_RC, NONCE)
    assert [(s.kind, s.rc) for s in sections] == [("iptables_save", None), ("nft_tables", 0)]
    assert sections[0].text == "*filter"
    assert sections[1].text == "table inet filter"


def test_forged_marker_with_other_nonce_stays_in_body():
    sections = split_sections(FORGED, NONCE)
    assert len(sections) == 1
    s = sections[0]
    assert (s.kind, s.arg, s.rc) == ("file", "/etc/network/interfaces", 0)
    assert s.text.splitlines() == [
        "auto lo",
        "@@0000000000000000@@ rc\t0",
        "@@0000000000000000@@ bridge\tevil0",
        "stp_state=0",
        "@@5f0c9e2a71b3d846@@rc\t0",
        " @@5f0c9e2a71b3d846@@ rc\t0",
        "iface lo inet loopback",
    ]


def test_other_nonce_sees_no_sections():
    assert split_sections(OUTPUT, "0000000000000000") == []


def test_empty_output():
    assert split_sections(BLANK, NONCE) == []


def test_garbled_output():
    assert split_sections(GARBLED, NONCE) == []


def test_non_numeric_rc():
    out = "\n@@%s@@ virsh_version\t\nerror: failed to connect\n\n@@%s@@ rc\tKilled\n" % (NONCE, NONCE)
    (s,) = split_sections(out, NONCE)
    assert s == Section("virsh_version", "", "error: failed to connect", None)


def test_arg_keeps_tabs_after_the_first():
    out = "\n@@%s@@ file\t/etc/odd\tname\nx\n\n@@%s@@ rc\t0\n" % (NONCE, NONCE)
    (s,) = split_sections(out, NONCE)
    assert s.arg == "/etc/odd\tname"
    assert s.text == "x"


def test_only_one_framing_newline_is_stripped():
    # a body that really ends in an empty line keeps it
    out = "\n@@%s@@ file\t/f\na\n\n\n@@%s@@ rc\t0\n" % (NONCE, NONCE)
    (s,) = split_sections(out, NONCE)
    assert s.text == "a\n"
