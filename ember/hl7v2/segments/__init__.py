"""One module per family of segment maps; `ember.hl7v2.mapper.SEGMENT_MAPS` names them all."""
