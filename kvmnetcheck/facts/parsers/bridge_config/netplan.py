"""netplan YAML, as netplan renders it for systemd-networkd or NetworkManager (src/parse.c, src/networkd.c,
src/nm.c); files whose aliases expand past the bounds are not read."""

from __future__ import annotations

import os
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


def load_netplan(text: str):
    """yaml.safe_load of a netplan file (the same values: a key given twice keeps its last value), refused
    past the bounds before any value is built."""
    root = compose_netplan(text)
    return None if root is None else yaml.SafeLoader("").construct_document(root)


def netplan_global_renderer(files: list[tuple[str, str]]) -> Optional[str]:
    """network.renderer of a set of netplan files: the last file (by name) that sets it wins."""
    renderer = None
    for _path, text in sorted(files, key=lambda f: os.path.basename(f[0])):
        try:
            doc = load_netplan(text)
        except Exception:  # a refused file is reported by parse_netplan
            continue
        net = doc.get("network") if isinstance(doc, dict) else None
        if isinstance(net, dict) and net.get("renderer"):
            renderer = str(net["renderer"])
    return renderer


def netplan_bridges(text: str, global_renderer: Optional[str]) -> list[tuple[str, dict, str]]:
    """(name, definition, renderer) of each bridge, in file order. A `renderer` key under `bridges:`
    is no bridge: it sets the renderer of the bridges defined after it (netplan src/parse.c)."""
    try:
        doc = load_netplan(text)
    except Exception:  # YAMLError, YamlRefused, and constructor errors such as a bad date or !!int
        return []
    return _bridges_in(doc, global_renderer)


def _bridges_in(doc, global_renderer: Optional[str]) -> list[tuple[str, dict, str]]:
    net = doc.get("network") if isinstance(doc, dict) else None
    bridges = net.get("bridges") if isinstance(net, dict) else None
    if not isinstance(bridges, dict):
        return []
    file_renderer = net.get("renderer")
    type_renderer = None
    out = []
    for name, conf in bridges.items():
        if name == "renderer":
            type_renderer = str(conf) if conf else None
            continue
        conf = conf if isinstance(conf, dict) else {}
        renderer = str(conf.get("renderer") or type_renderer or global_renderer or file_renderer or "networkd")
        out.append((str(name), conf, renderer))
    return out


def parse_netplan(path: str, text: str, ctx: Context = NO_CONTEXT) -> list[BridgeConfig]:
    ns = ctx.netstack
    try:
        root = compose_netplan(text)
        doc = None if root is None else yaml.SafeLoader("").construct_document(root)
    except YamlRefused as e:
        return _refused_netplan(path, text, f"netplan file {path}: {e}; not read", ns)
    except Exception:  # YAMLError, and constructor errors such as a bad date or !!int
        return []
    out = []
    for name, conf, renderer in _bridges_in(doc, ctx.netplan_renderer):
        nm = renderer == "NetworkManager"
        params = conf.get("parameters")
        problem = None
        if isinstance(params, dict):
            stp = to_bool(str(params.get("stp")) if "stp" in params else None, True)
            raw = params.get("forward-delay")
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
            lines = _netplan_lines(root, text, name, ("stp", "forward-delay"))
        else:
            # no parameters: netplan writes no bridge keys, so the renderer's own defaults apply
            stp = nm
            delay = None
            lines = _netplan_lines(root, text, name, ()) or [f"bridges.{name}: no parameters (renderer {renderer})"]
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
    _, net = _child(root, "network")
    _, bridges = _child(net, "bridges")
    keys = (
        [k for k, _ in bridges.value if isinstance(k, yaml.ScalarNode) and k.value != "renderer"]
        if isinstance(bridges, yaml.MappingNode)
        else []
    )
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


def _child(node, key):
    """The first (key node, value node) of `key` in a mapping node; (None, None) if none."""
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None, None


def _netplan_lines(root, text: str, bridge: str, keys: tuple[str, ...]) -> list[str]:
    """The file's own lines (numbered) that define `bridge` and set the given parameters: where a key
    is given twice, the first (the values are the last's, as yaml.safe_load reads them)."""
    src = text.splitlines()
    _, net = _child(root, "network")
    _, bridges = _child(net, "bridges")
    key_node, conf = _child(bridges, bridge)
    if key_node is None:
        return []
    marks = [key_node.start_mark.line]
    _, params = _child(conf, "parameters")
    for k in keys:
        kn, _ = _child(params, k)
        if kn is not None:
            marks.append(kn.start_mark.line)
    return [f"{n + 1}: {src[n].strip()}" for n in marks if n < len(src)]
