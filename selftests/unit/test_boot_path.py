"""A guest's boot path with what each device can do, and the two network-boot checks judged along it: a NIC
matters only when the firmware reaches it and nothing after it can boot."""

from test_host_facts import NET_XML
from test_unknown_facts import BRIDGE, DONE, LEASES, META5, PID, SAVE, UDP, facts, outcome

from kvmnetcheck.catalog import Finding
from kvmnetcheck.facts.conclusions.boot import boot_path

WITH_FILE = (
    NET_XML.replace("<name>lab</name>", "<name>pxe</name>")
    # a URL: QEMU's NIC ROM is iPXE, which fetches it itself (no TFTP root to judge in these facts)
    .replace("</dhcp>", "<bootp file='http://10.98.7.1/boot.ipxe'/></dhcp>")
    .replace("virbr5", "virbr6")
    .replace("12345678-1234", "22345678-1234")
)
NO_FILE = NET_XML  # network lab: an address, no boot file


def nic(n, net, extra=""):
    return (
        f"<interface type='network'><mac address='52:54:00:00:00:0{n}'/><source network='{net}'/>"
        f"<model type='virtio'/>{extra}</interface>"
    )


DISK = "<disk type='file' device='disk'><source file='/var/lib/libvirt/images/g.qcow2'/><target dev='vda'/>{}</disk>"


def guest_facts(os_boot, devices):
    dom = f"""<domain type='qemu'><name>g</name><os><type arch='x86_64' machine='pc'>hvm</type>{os_boot}</os>
  <devices>{devices}</devices></domain>"""
    f = facts(META5, UDP, PID, LEASES, BRIDGE, SAVE, DONE, nets=(NO_FILE, WITH_FILE), dom=dom)
    (g,) = f.libvirt.guests
    return f, g


def checks(f, g, n):
    import tests_guest.test_guest_boot as c

    return (
        outcome(c.test_guest_pxe_boot_file_is_served, f, g, g.nics[n]),
        outcome(c.test_guest_pxe_nic_keeps_its_boot_rom, f, g, g.nics[n]),
    )


def test_a_second_nic_after_one_that_boots_is_not_judged():
    f, g = guest_facts("", nic(1, "pxe", "<boot order='1'/>") + nic(2, "lab", "<boot order='2'/><rom bar='off'/>"))
    path = boot_path(f, g)
    assert path.device.device == "NIC 52:54:00:00:00:01"
    assert path.summary.startswith(
        "NIC 52:54:00:00:00:01 (boot order 1; network pxe hands out boot file http://10.98.7.1/boot.ipxe)"
    )
    file_, rom = checks(f, g, 1)
    assert file_.startswith("skipped: the guest boots from NIC 52:54:00:00:00:01"), file_
    assert rom.startswith("skipped: the guest boots from NIC 52:54:00:00:00:01"), rom


def test_a_disk_first_guest_does_not_need_its_network_fallback_to_serve_a_file():
    f, g = guest_facts("<boot dev='hd'/><boot dev='network'/>", DISK.format("") + nic(1, "lab"))
    path = boot_path(f, g)
    assert path.device.device == "disk vda" and "assumed bootable" in path.summary
    file_, _ = checks(f, g, 0)
    assert file_.startswith("skipped: the guest boots from disk vda"), file_


def test_a_nic_without_rom_before_a_disk_falls_through_to_the_disk():
    f, g = guest_facts("<boot dev='network'/><boot dev='hd'/>", DISK.format("") + nic(1, "pxe", "<rom enabled='no'/>"))
    path = boot_path(f, g)
    assert path.device.device == "disk vda"
    assert "NIC 52:54:00:00:00:01 passed over: its boot ROM is off (<rom enabled='no'/>)" in path.summary
    _, rom = checks(f, g, 0)
    assert rom.startswith("skipped: when network boot from this NIC finds nothing, the guest goes on to disk vda"), rom


def test_the_only_nic_without_a_file_fails_and_says_the_guest_boots_nothing():
    f, g = guest_facts("<boot dev='network'/>", nic(1, "lab"))
    assert boot_path(f, g).device is None
    file_, _ = checks(f, g, 0)
    assert isinstance(file_, Finding) and "boots from: nothing: NIC 52:54:00:00:00:01: network lab gives an" in str(
        file_
    ), file_


def test_a_rom_off_nic_that_everything_rests_on_fails():
    f, g = guest_facts("", nic(1, "lab", "<boot order='1'/>") + nic(2, "pxe", "<boot order='2'/><rom bar='off'/>"))
    assert boot_path(f, g).device is None
    _, rom = checks(f, g, 1)
    assert isinstance(rom, Finding) and "boots from: nothing" in str(rom), rom


def test_a_nic_whose_dhcp_is_not_known_here_may_boot_first():
    bridged = "<interface type='bridge'><mac address='52:54:00:00:00:03'/><source bridge='br0'/><model type='virtio'/></interface>"
    f, g = guest_facts(
        "", bridged.replace("</interface>", "<boot order='1'/></interface>") + DISK.format("<boot order='2'/>")
    )
    path = boot_path(f, g)
    assert path.device.device == "disk vda"
    assert "unless NIC 52:54:00:00:00:03 boots first (a type='bridge' NIC" in path.summary


def test_a_guest_whose_only_nic_is_bridged_boots_from_what_its_lan_decides():
    bridged = "<interface type='bridge'><mac address='52:54:00:00:00:03'/><source bridge='br0'/></interface>"
    f, g = guest_facts("<boot dev='network'/>", bridged)
    assert boot_path(f, g).summary.startswith("not known here: NIC 52:54:00:00:00:03: a type='bridge' NIC")


def test_an_empty_cdrom_cannot_boot():
    f, g = guest_facts("<boot dev='cdrom'/>", "<disk type='file' device='cdrom'><target dev='sda'/></disk>")
    assert boot_path(f, g).summary == "nothing: cdrom sda: no medium in it"


def test_the_per_guest_view_says_which_device_the_guest_boots_from():
    from kvmnetcheck.report.guests import GuestStory, host_stories, stories_html, stories_lines
    from kvmnetcheck.report.results import Result

    f, g = guest_facts("<boot dev='network'/><boot dev='hd'/>", nic(1, "lab") + DISK.format(""))
    r = Result("guest-pxe-boot-file", "h1", "g/52:54:00:00:00:01", "failed", "high", "no file")
    (story,) = host_stories(f, [r])
    want = "disk vda (<boot dev='hd'/>: the first disk; assumed bootable: it has a source,"
    assert story.boots_from.startswith(want), story.boots_from
    assert "NIC 52:54:00:00:00:01 passed over: network lab gives an address but no boot file" in story.boots_from
    assert GuestStory.from_json(story.as_json()) == story
    assert stories_lines([story])[1].startswith("  boots from: " + want)
    assert "<p class='kvm-guest-boot'>boots from: disk vda (&lt;boot dev=" in stories_html([story])


def test_a_nic_behind_one_whose_lan_is_not_known_here_is_unknown_not_failed():
    from kvmnetcheck.facts.model import Unreadable

    bridged = (
        "<interface type='bridge'><mac address='52:54:00:00:00:03'/><source bridge='br0'/><boot order='1'/></interface>"
    )
    f, g = guest_facts("", bridged + nic(2, "lab", "<boot order='2'/>"))
    file_, _ = checks(f, g, 1)
    assert isinstance(file_, Unreadable) and "NIC 52:54:00:00:00:03 comes first" in str(file_), file_
