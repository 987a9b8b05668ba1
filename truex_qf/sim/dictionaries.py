"""The simulator's copy of the TrueX dictionaries: spec/ with what TrueX's gateway tolerates.

The product's dictionaries in ``spec/`` say what TrueX defines, and our client validates with
them. The acceptor must also take what TrueX was seen to take without a reject, which is more:

- DefaultApplVerID (1137) on every admin message. TrueX's FIXT dictionary defines 1137 on the
  Logon only, yet a UAT trace shows Heartbeats, TestRequest answers and Logouts carrying 1137
  drawing no reject (spec §15 #12). Adding 1137 to those messages is the narrowest change that
  accepts them: ``AllowUnknownMsgFields=Y`` would also let every other misplaced field through
  on application messages, which TrueX does refuse (``Invalid tag (N)``).
- MDUpdateType (265) and the NoMDEntryTypes group (267 → 269) on the MarketDataRequest, which
  the JS client sent (spec §8.4). TrueX's dictionary has neither and whether its gateway
  refuses them is unknown (§14.17), so the simulator takes the lenient side and ignores them.
- MDFullGrp (35=W entries) ordered as TrueX sends it: 269, 270, 271, 1023, 273 (spec §8.6, §12),
  where the dictionary lists 273 before 1023. QuickFIX writes a group's fields in its
  dictionary's order, so the snapshot is built with this copy.

The copy is generated from ``spec/`` on first use, into a folder named by a hash of its
sources, so it follows every change to ``spec/`` and is never edited by hand.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

from truex_qf.fix.settings import SPEC_DIR

TRANSPORT_FILE = "TrueX_FIXT11.xml"
APPLICATION_FILE = "TrueX_FIX50SP2.xml"
ADMIN_MESSAGES_TAKING_1137 = ("0", "1", "2", "3", "4", "5")
SNAPSHOT_ENTRY_ORDER = ("MDEntryType", "MDEntryPx", "MDEntrySize", "MDPriceLevel", "MDEntryTime")
_VERSION = "2"  # bump when the edits below change


@functools.cache
def venue_spec_dir(source: Path = SPEC_DIR) -> Path:
    """The folder holding the simulator's two dictionaries, written once per content."""
    texts = {name: (source / name).read_bytes() for name in (TRANSPORT_FILE, APPLICATION_FILE)}
    digest = hashlib.sha256(_VERSION.encode())
    for name in sorted(texts):
        digest.update(texts[name])
    folder = Path(tempfile.gettempdir()) / f"truex-qf-venue-spec-{digest.hexdigest()[:16]}"
    edits = {TRANSPORT_FILE: _admin_messages_take_1137, APPLICATION_FILE: _application_edits}
    for name, edit in edits.items():
        target = folder / name
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            root = ET.fromstring(texts[name])
            edit(root)
            partial = folder / f".{name}.{os.getpid()}"
            ET.ElementTree(root).write(partial, encoding="utf-8", xml_declaration=True)
            partial.replace(target)  # atomic: a concurrent reader sees the old file or this one
    return folder


def _admin_messages_take_1137(root: ET.Element) -> None:
    for message in root.iter("message"):
        if message.get("msgtype") not in ADMIN_MESSAGES_TAKING_1137:
            continue
        if not any(child.get("name") == "DefaultApplVerID" for child in message):
            ET.SubElement(message, "field", name="DefaultApplVerID", required="N")


def _application_edits(root: ET.Element) -> None:
    _market_data_request_takes_js_extras(root)
    _snapshot_entry_order(root)


def _market_data_request_takes_js_extras(root: ET.Element) -> None:
    fields = root.find("fields")
    assert fields is not None, "an application dictionary has a <fields> section"
    defined = {field.get("number") for field in fields}
    for number, name, kind in (
        ("265", "MDUpdateType", "INT"),
        ("267", "NoMDEntryTypes", "NUMINGROUP"),
    ):
        if number not in defined:
            ET.SubElement(fields, "field", number=number, name=name, type=kind)
    for message in root.iter("message"):
        if message.get("msgtype") != "V":
            continue
        names = {child.get("name") for child in message}
        if "MDUpdateType" not in names:
            message.insert(3, ET.Element("field", name="MDUpdateType", required="N"))
        if "NoMDEntryTypes" not in names:
            group = ET.Element("group", name="NoMDEntryTypes", required="N")
            ET.SubElement(group, "field", name="MDEntryType", required="Y")
            message.insert(4, group)


def _snapshot_entry_order(root: ET.Element) -> None:
    for component in root.iter("component"):
        group = component.find("group")
        if component.get("name") != "MDFullGrp" or group is None:
            continue  # a reference to the component, or another one
        children = list(group)
        rank = {name: index for index, name in enumerate(SNAPSHOT_ENTRY_ORDER)}
        listed = [child for child in children if child.get("name") in rank]
        others = [child for child in children if child.get("name") not in rank]
        for child in children:
            group.remove(child)
        for child in sorted(listed, key=lambda child: rank[child.get("name", "")]) + others:
            group.append(child)
