"""netplan YAML, as netplan renders it for systemd-networkd or NetworkManager (src/parse.c, src/networkd.c,
src/nm.c); files whose aliases expand past the bounds are not read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import yaml

from ...model import Boot, BridgeConfig, NetStack
from ..netstack import is_installed, program_boot
from .common import KERNEL_DEFAULT_FD_S, NM_DEFAULT_FD_S, NO_CONTEXT, Context, boot_fields, timespan, to_bool, whole

# netplan (libyaml, src/parse.c) follows aliases wherever they point; a few hundred bytes of nested
# aliases then stand for billions of nodes, which reading the values (str() of them) would expand.
# Past these bounds a file is not read.
MAX_YAML_NODES = 100_000  # nodes visited with every alias followed
MAX_YAML_DEPTH = 64


# the bridge of a refused file that names none (no Linux bridge name has a space)
NOT_READ = "(not read)"


class YamlRefused(ValueError):
    """A YAML document whose aliases expand past the bounds (or loop): not read."""


def _bounded(root) -> None:
    """Walk the composed node graph as constructing and reading it would, aliases followed; raise
    YamlRefused past MAX_YAML_NODES nodes or MAX_YAML_DEPTH levels (an alias to its own ancestor
    never ends, and ends here)."""
    seen = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_YAML_NODES:
            raise YamlRefused(f"YAML aliases expand past {MAX_YAML_NODES} nodes")
        if depth > MAX_YAML_DEPTH:
            raise YamlRefused(f"YAML nests (aliases followed) past {MAX_YAML_DEPTH} levels")
        if isinstance(node, yaml.SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))


def compose_netplan(text: str):
    """The file's node graph (aliases are shared nodes, not copies), refused past the bounds: YamlRefused,
    or a YAMLError for a file that is no YAML."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        _bounded(root)
    return root


# netplan's own words for a boolean (src/parse.c handle_generic_bool); anything else fails its file
NETPLAN_TRUE = {"true", "on", "yes", "y"}
NETPLAN_FALSE = {"false", "off", "no", "n"}


@dataclass(frozen=True)
class NetplanBridge:
    """One bridge of a netplan file as netplan builds it from every place the file defines it."""

    name: str
    renderer: str
    parameters: bool  # a `parameters:` mapping was given (netplan then writes the bridge's keys)
    stp: Optional[str]  # the raw value in effect; None: none given since the last `parameters:` (STP on)
    forward_delay: Optional[str]  # the raw value of the last `forward-delay`
    key_lines: tuple[int, ...]  # 0-based lines of the bridge's id, each place it is defined
    stp_line: Optional[int]
    forward_delay_line: Optional[int]


def _pairs(node, key: Optional[str] = None):
    """(key node, key, value node) of a mapping node in file order, every repeated key kept: libyaml keeps
    them all and netplan's process_mapping (src/parse.c) calls the key's handler for each, in turn."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and (key is None or k.value == key):
                yield k, k.value, v


def _scalar(node) -> Optional[str]:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _networks(root):
    """Each `network:` mapping of the file, in order (netplan reads them all)."""
    return [v for _, _, v in _pairs(root, "network")]


def _file_renderer(root) -> Optional[str]:
    """The last `network.renderer` of the file (handle_network_renderer sets the global backend each time)."""
    renderer = None
    for net in _networks(root):
        for _, _, v in _pairs(net, "renderer"):
            renderer = _scalar(v) or renderer
    return renderer


def _read_bridges(root, global_renderer: Optional[str]) -> list[NetplanBridge]:
    """Every bridge of the file, merged as netplan's parser merges them (src/parse.c): each `network:`
    and each `bridges:` in it is read (process_mapping has no check for a repeated key); a bridge id
    seen before amends the same definition (handle_network_type finds it in parsed_defs), whose renderer
    is the type-level `renderer:` in force where it was first defined (the type-level one holds to the
    end of its `bridges:` block) unless the bridge sets its own (the last wins); each `parameters:`
    turns STP on again before its own keys (handle_bridge), and within it the last value of a key wins."""
    file_renderer = _file_renderer(root)
    found: dict[str, dict] = {}
    for net in _networks(root):
        for _, _, block in _pairs(net, "bridges"):
            type_renderer = None
            for key, name, conf in _pairs(block):
                if name == "renderer":
                    type_renderer = _scalar(conf) or None
                    continue
                b = found.setdefault(
                    name,
                    dict(renderer=type_renderer, params=False, stp=None, fd=None, keys=[], stp_at=None, fd_at=None),
                )
                b["keys"].append(key.start_mark.line)
                for _, field, value in _pairs(conf):
                    if field == "renderer":
                        b["renderer"] = _scalar(value) or b["renderer"]
                    elif field == "parameters" and isinstance(value, yaml.MappingNode):
                        b.update(params=True, stp=None, stp_at=None)
                        for pk, param, pv in _pairs(value):
                            if param == "stp":
                                b.update(stp=_scalar(pv), stp_at=pk.start_mark.line)
                            elif param == "forward-delay":
                                b.update(fd=_scalar(pv), fd_at=pk.start_mark.line)
    return [
        NetplanBridge(
            name=name,
            renderer=str(b["renderer"] or global_renderer or file_renderer or "networkd"),
            parameters=b["params"],
            stp=b["stp"],
            forward_delay=b["fd"],
            key_lines=tuple(b["keys"]),
            stp_line=b["stp_at"],
            forward_delay_line=b["fd_at"],
        )
        for name, b in found.items()
    ]


def netplan_global_renderer(files: list[tuple[str, str]]) -> Optional[str]:
    """network.renderer of a set of netplan files: the last file (by name) that sets it wins."""
    renderer = None
    for _path, text in sorted(files, key=lambda f: os.path.basename(f[0])):
        try:
            root = compose_netplan(text)
        except Exception:  # a refused file is reported by parse_netplan
            continue
        renderer = _file_renderer(root) or renderer
    return renderer


def netplan_bridges(text: str, global_renderer: Optional[str]) -> list[NetplanBridge]:
    """Each bridge of the file, in the order netplan first meets it. A `renderer` key under `bridges:`
    is no bridge: it sets the renderer of the bridges defined after it in that block (netplan src/parse.c)."""
    try:
        root = compose_netplan(text)
    except Exception:  # YAMLError, YamlRefused
        return []
    return _read_bridges(root, global_renderer)


def parse_netplan(path: str, text: str, ctx: Context = NO_CONTEXT) -> list[BridgeConfig]:
    ns = ctx.netstack
    try:
        root = compose_netplan(text)
    except YamlRefused as e:
        return _refused_netplan(path, text, f"netplan file {path}: {e}; not read", ns)
    except Exception:  # YAMLError
        return []
    src = text.splitlines()
    out = []
    for b in _read_bridges(root, ctx.netplan_renderer):
        name, renderer = b.name, b.renderer
        nm = renderer == "NetworkManager"
        problem = None
        if b.parameters:
            stp = to_bool(b.stp, True, NETPLAN_TRUE, NETPLAN_FALSE)
            raw = b.forward_delay
            if nm:
                # netplan copies the string into NM's keyfile; NM takes whole seconds only
                delay = whole(raw)
                if raw is not None and delay is None:
                    problem = (
                        f"forward-delay {raw!r} is no whole number of seconds: NetworkManager refuses the "
                        "value and uses 15 s"
                    )
                delay = float(delay) if delay is not None else None
            else:
                delay = timespan(raw)
            marks = [*b.key_lines, b.stp_line, b.forward_delay_line]
        else:
            # no parameters: netplan writes no bridge keys, so the renderer's own defaults apply
            stp = nm
            delay = None
            marks = list(b.key_lines)
        lines = [f"{n + 1}: {src[n].strip()}" for n in sorted(m for m in marks if m is not None) if n < len(src)]
        if not b.parameters and not lines:
            lines = [f"bridges.{name}: no parameters (renderer {renderer})"]
        if nm:
            program = "netplan -> NetworkManager"
            boot = program_boot(ns, "NetworkManager") if ns.known else Boot(None, "")
        else:
            program = "netplan -> systemd-networkd"
            boot = (
                (
                    Boot(True, "netplan starts systemd-networkd at boot")
                    if is_installed(ns, "networkd")
                    else Boot(False, "systemd-networkd is not installed")
                )
                if ns.known
                else Boot(None, "")
            )
        if ns.known and not is_installed(ns, "netplan"):
            boot = Boot(False, "netplan is not installed: nothing reads this file")
        out.append(
            BridgeConfig(
                bridge=name,
                path=path,
                format="netplan",
                stp=stp,
                forward_delay_s=delay,
                default_delay_s=NM_DEFAULT_FD_S if nm else KERNEL_DEFAULT_FD_S,
                lines=tuple(lines),
                problem=problem if stp else None,
                program=program + f" (renderer {renderer})",
                connection=f"netplan-{name}" if nm else None,
                waits_without_stp=ctx.waits_without_stp,
                **boot_fields(boot),
            )
        )
    return out


def _refused_netplan(path: str, text: str, why: str, ns: NetStack) -> list[BridgeConfig]:
    """Each bridge a refused file names (its keys under network.bridges, found without following the
    aliases any further), unknown; one that names none it could be read for stands for them all."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)  # composing shares aliased nodes: no expansion
    keys = [
        k
        for net in _networks(root)
        for _, _, block in _pairs(net, "bridges")
        for k, name, _ in _pairs(block)
        if name != "renderer"
    ]
    names = list(dict.fromkeys(k.value for k in keys)) or [NOT_READ]
    src = text.splitlines()
    boot = (
        Boot(False, "netplan is not installed: nothing reads this file")
        if ns.known and not is_installed(ns, "netplan")
        else Boot(None, "")
    )
    return [
        BridgeConfig(
            bridge=name,
            path=path,
            format="netplan",
            stp=True,
            forward_delay_s=None,
            default_delay_s=KERNEL_DEFAULT_FD_S,
            lines=tuple(
                f"{k.start_mark.line + 1}: {src[k.start_mark.line].strip()}"
                for k in keys
                if k.value == name and k.start_mark.line < len(src)
            ),
            program="netplan",
            unknown=why,
            **boot_fields(boot),
        )
        for name in names
    ]
