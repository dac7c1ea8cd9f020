#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The vhu authors
"""Embed a PMD's identity in a plugin for dpdk-pmdinfo.py.

usage: gen-pmdinfo.py OUTPUT.c INPUT...
       gen-pmdinfo.py --check

Each INPUT is an ELF relocatable object or an ar archive of them (regular or
thin, as meson makes). DPDK's registration macros leave, in the object that
registers a driver, static arrays that nothing references but that are kept:

  this_pmd_name<N>[]               = "<driver>"   RTE_PMD_EXPORT_NAME, which
                                                  RTE_PMD_REGISTER_VDEV uses
  __<driver>_param_string_export[] = "<params>"   RTE_PMD_REGISTER_PARAM_STRING
  __<driver>_kmod_dep_export[]     = "<modules>"  RTE_PMD_REGISTER_KMOD_DEP
  __<driver>_pci_tbl_export[]      = "<table>"    RTE_PMD_REGISTER_PCI_TABLE

For every driver found, OUTPUT.c gets one string

  static const char vhu_pmd_info[] __attribute__((used)) =
          "PMD_INFO_STRING= {\"name\": ..., \"params\": ..., \"kmod\": ..., \"pci_ids\": []}";

which ends up in the plugin's .rodata, where dpdk-pmdinfo.py looks for it.
Only virtual-device drivers are handled: a PCI table is an error rather than a
silently empty pci_ids list.

--check exits 0 when the Python running this script has pyelftools.
"""

import io
import json
import os
import sys

try:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection
except ImportError:  # reported by main()
    ELFFile = None

NAME_PREFIX = "this_pmd_name"
TAGS = ("param_string_export", "kmod_dep_export", "pci_tbl_export")


def archive_members(path):
    """Yield (member name, binary file object) for each member of an ar archive."""
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(b"!<thin>\n"):
        thin = True
    elif data.startswith(b"!<arch>\n"):
        thin = False
    else:
        raise ValueError("%s: not an ar archive" % path)
    pos = 8
    longnames = b""
    while pos + 60 <= len(data):
        hdr = data[pos:pos + 60]
        if hdr[58:60] != b"`\n":
            raise ValueError("%s: bad member header at offset %d" % (path, pos))
        name = hdr[:16].decode("ascii").rstrip()
        size = int(hdr[48:58].decode("ascii").strip() or "0")
        pos += 60
        # the symbol index and the long-name table are stored even in thin archives
        if name in ("/", "/SYM64/", "//"):
            if name == "//":
                longnames = data[pos:pos + size]
            pos += size + (size & 1)
            continue
        if name.startswith("/"):
            # "/<offset>" into the long-name table (GNU ar may pad it with a '/')
            off = int(name[1:].rstrip("/ "))
            end = longnames.index(b"/\n", off)
            name = longnames[off:end].decode()
        else:
            name = name.rstrip("/")
        if thin:
            # members live outside, named relative to the archive's directory
            member = os.path.join(os.path.dirname(path), name)
            if is_archive(member):
                yield from archive_members(member)
            else:
                yield member, open(member, "rb")
        else:
            yield "%s(%s)" % (path, name), io.BytesIO(data[pos:pos + size])
            pos += size + (size & 1)


def is_archive(path):
    with open(path, "rb") as f:
        return f.read(8) in (b"!<arch>\n", b"!<thin>\n")


def object_strings(name, stream):
    """Map each symbol of interest in one object to its string value."""
    found = {}
    elf = ELFFile(stream)
    for sec in elf.iter_sections():
        if not isinstance(sec, SymbolTableSection):
            continue
        for sym in sec.iter_symbols():
            sname = sym.name
            if not (sname.startswith(NAME_PREFIX) or
                    (sname.startswith("__") and sname.endswith(TAGS))):
                continue
            if sym["st_info"]["type"] != "STT_OBJECT" or not isinstance(sym["st_shndx"], int):
                continue
            target = elf.get_section(sym["st_shndx"])
            if target["sh_type"] == "SHT_NOBITS":
                continue
            # in a relocatable object st_value is the offset in its section
            raw = target.data()[sym["st_value"]:sym["st_value"] + sym["st_size"]]
            value = raw.split(b"\0", 1)[0]
            try:
                found[sname] = value.decode("ascii")
            except UnicodeDecodeError:
                raise ValueError("%s: %s is not an ASCII string" % (name, sname))
    return found


def collect(inputs):
    """Return {driver name: info dict} over every object of the inputs."""
    drivers = {}
    for path in inputs:
        members = archive_members(path) if is_archive(path) else [(path, open(path, "rb"))]
        for name, stream in members:
            with stream:
                syms = object_strings(name, stream)
            for sname, value in syms.items():
                if not sname.startswith(NAME_PREFIX):
                    continue
                drv = value

                def tag(t, drv=drv):
                    return syms.get("__%s_%s" % (drv, t))

                if tag("pci_tbl_export") is not None:
                    raise ValueError("%s: %s registers a PCI table; only virtual devices are "
                                     "supported" % (name, drv))
                info = {"name": drv}
                if tag("param_string_export") is not None:
                    info["params"] = tag("param_string_export")
                if tag("kmod_dep_export") is not None:
                    info["kmod"] = tag("kmod_dep_export")
                info["pci_ids"] = []
                if drv in drivers and drivers[drv] != info:
                    raise ValueError("driver %s is registered twice, differently" % drv)
                drivers[drv] = info
    return drivers


def c_string(s):
    out = []
    for ch in s:
        if ch in "\\\"":
            out.append("\\" + ch)
        elif " " <= ch <= "~":
            out.append(ch)
        else:
            raise ValueError("unprintable character %r in %r" % (ch, s))
    return '"' + "".join(out) + '"'


def render(drivers, inputs):
    lines = [
        "/* Generated by buildtools/gen-pmdinfo.py from %s: do not edit. */" %
        " ".join(os.path.basename(i) for i in inputs),
        "",
    ]
    if not drivers:
        lines.append("/* no driver registered (no RTE_PMD_REGISTER_VDEV in the inputs) */")
        lines.append("extern const char vhu_pmd_info_none[];")
    for i, drv in enumerate(sorted(drivers)):
        var = "vhu_pmd_info" if len(drivers) == 1 else "vhu_pmd_info%d" % i
        text = "PMD_INFO_STRING= " + json.dumps(drivers[drv], sort_keys=False)
        lines.append("static const char %s[] __attribute__((used)) =" % var)
        lines.append("\t%s;" % c_string(text))
    return "\n".join(lines) + "\n"


def main(argv):
    if ELFFile is None:
        sys.stderr.write("gen-pmdinfo.py: %s has no pyelftools: install python3-pyelftools\n" %
                         sys.executable)
        return 1
    if argv[1:] == ["--check"]:
        return 0
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    output, inputs = argv[1], argv[2:]
    try:
        text = render(collect(inputs), inputs)
    except (OSError, ValueError) as e:
        sys.stderr.write("gen-pmdinfo.py: error: %s\n" % e)
        return 1
    with open(output + ".tmp", "w") as f:
        f.write(text)
    os.replace(output + ".tmp", output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
