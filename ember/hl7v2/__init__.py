"""The HL7 v2 bridge: MLLP and HTTP in, one FHIR transaction per message, ACKs, dead letters,
and an outbound ORU^R01 feed (docs/hl7v2.md).

message.py parses (python-hl7, normalised); mapper.py and segments/ map to a transaction Bundle;
ingest.py applies it and acknowledges; listener.py, mllp.py and http.py are the ways in;
outbound.py, oru.py and delivery.py the way out; bridge.py wires it into the server.
"""
