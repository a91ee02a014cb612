"""The lab's Nova metadata stand-in: Nova's checks (signature, project)
and the OpenStack and EC2 answers from an instance record."""
from __future__ import annotations

import json
import types

import pytest

from neutrino.agent.metadata.agent import sign_instance_id
from neutrino.lab.instances import Instance
from neutrino.lab.nova_metadata import LabNovaMetadata

UUID = "5b092b4b-2391-4061-823b-c8888f805322"


@pytest.fixture
def nova(tmp_path):
    inst = Instance(name="vm_1", host="host2", netns="ns", port_id="port-1",
                    network_id="net-1", mac="fa:16:3e:00:00:05", ips=["10.0.0.5/24"],
                    gateway="10.0.0.1", mtu=1450, tap="tapport-1", dhcp=False,
                    project_id="demo", uuid=UUID)
    (tmp_path / "vm_1.user_data").write_bytes(b"\x00bytes\xff")
    instances = types.SimpleNamespace(list=lambda: [inst],
                                      user_data_file=lambda name: tmp_path / f"{name}.user_data")
    return LabNovaMetadata(instances, "s3cret", [], floating_ip=lambda port: "203.0.113.9")


def ask(nova, path, instance=UUID, tenant="demo", secret="s3cret"):
    headers = {"X-Instance-ID": instance, "X-Tenant-ID": tenant,
               "X-Instance-ID-Signature": sign_instance_id(secret, instance)}
    return nova.answer(path, headers)


def test_bad_signature_is_403_and_missing_headers_400(nova):
    assert ask(nova, "/openstack/latest/meta_data.json", secret="wrong")[0] == 403
    assert nova.answer("/openstack/latest/meta_data.json", {})[0] == 400


def test_unknown_instance_or_other_project_is_404(nova):
    assert ask(nova, "/openstack/latest/meta_data.json", instance="nope")[0] == 404
    assert ask(nova, "/openstack/latest/meta_data.json", tenant="admin")[0] == 404


def test_openstack_meta_data_and_network_data(nova):
    status, ctype, body = ask(nova, "/openstack/latest/meta_data.json")
    meta = json.loads(body)
    assert status == 200 and ctype == "application/json"
    assert meta["uuid"] == UUID and meta["name"] == "vm_1" and meta["project_id"] == "demo"
    assert meta["hostname"] == "vm-1.novalocal" and meta["availability_zone"] == "nova"
    net = json.loads(ask(nova, "/openstack/2013-10-17/network_data.json")[2])
    assert net["links"][0]["ethernet_mac_address"] == "fa:16:3e:00:00:05"
    assert net["networks"][0] == {"id": "network0", "link": "tapport-1", "network_id": "net-1",
                                  "type": "ipv4", "ip_address": "10.0.0.5",
                                  "netmask": "255.255.255.0",
                                  "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0",
                                              "gateway": "10.0.0.1"}]}
    assert ask(nova, "/openstack/latest/user_data")[2] == b"\x00bytes\xff"


def test_ec2_keys(nova):
    assert ask(nova, "/latest/meta-data/local-ipv4")[2] == b"10.0.0.5"
    assert ask(nova, "/2009-04-04/meta-data/public-ipv4")[2] == b"203.0.113.9"
    assert ask(nova, "/latest/meta-data/instance-id")[2] == b"i-5b092b4b"
    assert ask(nova, "/latest/meta-data/hostname")[2] == b"vm-1.novalocal"
    assert ask(nova, "/latest/meta-data/placement/availability-zone")[2] == b"nova"
    assert ask(nova, "/latest/user-data")[2] == b"\x00bytes\xff"
    assert ask(nova, "/latest/meta-data/no-such-key")[0] == 404
    assert b"local-ipv4" in ask(nova, "/latest/meta-data/")[2]
