"""FHIR XML, both ways: `json_to_xml(resource)` and `xml_to_json(data)`.

The JSON side is the dict ember.fhir.jsonio reads and writes (decimals as int, float or Decimal
with their exact text), so XML is only another spelling of the same resource: converting a
resource to XML and back gives an equal dict, primitive extensions and narrative included.
xml_to_json accepts untrusted input; see ember.fhir.xml.parsing for the defences.
"""

from ember.fhir.xml.reader import xml_to_json
from ember.fhir.xml.writer import json_to_xml

__all__ = ["json_to_xml", "xml_to_json"]
