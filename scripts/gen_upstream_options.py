#!/usr/bin/env python3
"""Regenerate neutrino/etc/upstream_options.json: the names and types of
every option that Neutron 25.2.3's neutron.conf, ml2_conf.ini,
linuxbridge_agent.ini, l3_agent.ini, dhcp_agent.ini and metadata_agent.ini
define, per file and section (no help text, no defaults).

It runs upstream's own oslo-config-generator (`--format json`) on upstream's
etc/oslo-config-generator/<file> lists of namespaces, in a throwaway venv
that has neutron 25.2.3 installed, never in neutrino's venv:

    python3 -m venv /tmp/n25venv
    /tmp/n25venv/bin/pip install neutron==25.2.3 pyroute2==0.7.12   # 0.9 lacks nslink
    /tmp/n25venv/bin/pip download --no-deps --no-binary :all: neutron==25.2.3 -d /tmp/n25sdist
    tar xzf /tmp/n25sdist/neutron-25.2.3.tar.gz -C /tmp/n25sdist
    python3 scripts/gen_upstream_options.py /tmp/n25venv /tmp/n25sdist/neutron-25.2.3

Besides what the generator lists, upstream reads options that are
registered at run time; they are added with their origin:
- [keystone_authtoken]: keystoneauth's session options and the options of
  the auth plugins an operator names in auth_type (password, v3password,
  v3applicationcredential, token, v3token, v2password, v2token), which
  keystonemiddleware registers when it loads the plugin;
- [keystone_authtoken]: the legacy options of keystonemiddleware 10.0.0
  (auth_uri, admin_user, auth_host, identity_uri, ...), removed since but
  still in many operators' files;
- [privsep_*]: the oslo.privsep options of each privsep context neutron
  defines (neutron/privileged/__init__.py cfg_section), as in [privsep].
Deprecated names (an option's deprecated_opts) are listed like the option.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile

FILES = ("neutron.conf", "ml2_conf.ini", "linuxbridge_agent.ini", "l3_agent.ini",
         "dhcp_agent.ini", "metadata_agent.ini")
TYPES = {"string value": "string", "boolean value": "boolean", "integer value": "integer",
         "list value": "list", "floating point value": "float", "port value": "port",
         "multi valued": "multistring", "host address value": "host", "dict value": "dict",
         "uri value": "uri", "IP address value": "ip"}
AUTH_PLUGINS = ("password", "v3password", "v3applicationcredential", "token", "v3token",
                "v2password", "v2token")
# keystonemiddleware 10.0.0, auth_token/_opts.py (auth_uri) and _auth.py (the rest)
LEGACY_AUTHTOKEN = {"auth_uri": "string", "auth_admin_prefix": "string", "auth_host": "string",
                    "auth_port": "integer", "auth_protocol": "string", "identity_uri": "string",
                    "admin_token": "string", "admin_user": "string", "admin_password": "string",
                    "admin_tenant_name": "string"}

# Runs in the neutron venv: keystoneauth's plugin and session options.
_KEYSTONEAUTH = r"""
import json, sys
from keystoneauth1 import loading
names = sys.argv[1:]
out = {}
for o in loading.get_session_conf_options():
    out[o.dest] = type(o.type).__name__
for name in names:
    for o in loading.get_plugin_loader(name).get_options():
        out[o.dest] = {str: "String", int: "Integer", bool: "Boolean",
                       float: "Float"}.get(o.type, "String")
        for d in o.deprecated:
            out[d.dest] = out[o.dest]
print(json.dumps(out))
"""
_OSLO_TYPE = {"String": "string", "Integer": "integer", "Boolean": "boolean", "Float": "float",
              "List": "list", "Port": "port", "URI": "uri", "Dict": "dict"}


def _type(oslo: str) -> str:
    return TYPES.get(oslo, "string")


def generate_file(venv: str, source: str, name: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([os.path.join(venv, "bin", "oslo-config-generator"), "--config-file",
                        os.path.join(source, "etc", "oslo-config-generator", name),
                        "--format", "json", "--output-file", out.name],
                       cwd=source, check=True, stderr=subprocess.DEVNULL)
        data = json.load(open(out.name))
    sections: dict[str, dict[str, str]] = {}
    for group, body in data["options"].items():
        opts = sections.setdefault(group, {})
        for opt in body["opts"]:
            kind = _type(opt["type"])
            opts[opt["dest"]] = kind
            for dep in opt["deprecated_opts"]:
                where = sections.setdefault(dep.get("group") or group, {})
                where.setdefault(dep["name"].replace("-", "_"), kind)
    return sections


def keystoneauth_opts(venv: str) -> dict[str, str]:
    raw = subprocess.run([os.path.join(venv, "bin", "python"), "-c", _KEYSTONEAUTH,
                          *AUTH_PLUGINS], check=True, capture_output=True, text=True).stdout
    return {k: _OSLO_TYPE.get(v, "string") for k, v in json.loads(raw).items()}


def privsep_sections(venv: str) -> list[str]:
    path = subprocess.run([os.path.join(venv, "bin", "python"), "-c",
                           "import neutron.privileged as p; print(p.__file__)"],
                          check=True, capture_output=True, text=True).stdout.strip()
    return sorted(set(re.findall(r"cfg_section='([\w]+)'", open(path).read())))


def main(venv: str, source: str, output: str) -> None:
    catalogue = {name: generate_file(venv, source, name) for name in FILES}
    server = catalogue["neutron.conf"]
    authtoken = server["keystone_authtoken"]
    for name, kind in {**keystoneauth_opts(venv), **LEGACY_AUTHTOKEN}.items():
        authtoken.setdefault(name, kind)
    for section in privsep_sections(venv):
        server.setdefault(section, dict(server["privsep"]))
    doc = {"_source": ("neutron 25.2.3 (oslo-config-generator --format json on its "
                       "etc/oslo-config-generator files; linuxbridge_agent.ini from the "
                       "same release, which still ships the Linux bridge agent) plus the "
                       "run-time options of scripts/gen_upstream_options.py's docstring"),
           "files": {f: {s: dict(sorted(o.items())) for s, o in sorted(sections.items())}
                     for f, sections in catalogue.items()}}
    with open(output, "w") as handle:
        # One line per section: small, and diffs show which section changed.
        handle.write("{\n" + f' "_source": {json.dumps(doc["_source"])},\n "files": {{\n')
        files = list(doc["files"].items())
        for i, (fname, sections) in enumerate(files):
            handle.write(f"  {json.dumps(fname)}: {{\n")
            items = list(sections.items())
            for j, (sname, opts) in enumerate(items):
                handle.write(f"   {json.dumps(sname)}: {json.dumps(opts)}"
                             + ("," if j < len(items) - 1 else "") + "\n")
            handle.write("  }" + ("," if i < len(files) - 1 else "") + "\n")
        handle.write(" }\n}\n")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "neutrino", "etc", "upstream_options.json")
    main(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else default_out)
