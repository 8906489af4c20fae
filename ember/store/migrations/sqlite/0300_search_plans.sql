-- Search plans at scale (docs/search.md#how-it-works, docs/benchmarks.md#search).
--
-- Lookup indexes end in the resource id: an equality lookup gives its resources in id order (a
-- page is the first rows of one index range), a sorted page walks them in value order, and
-- neither reads the table.
DROP INDEX token_index_lookup;
CREATE INDEX token_index_lookup ON token_index (resource_type, param, code, system, id);
DROP INDEX reference_index_target;
CREATE INDEX reference_index_target ON reference_index (resource_type, param, target_id, target_type, id);
DROP INDEX string_index_lookup;
CREATE INDEX string_index_lookup ON string_index (resource_type, param, value, id);
DROP INDEX uri_index_lookup;
CREATE INDEX uri_index_lookup ON uri_index (resource_type, param, uri, id);
DROP INDEX number_index_lookup;
CREATE INDEX number_index_lookup ON number_index (resource_type, param, low, id);
DROP INDEX quantity_index_lookup;
CREATE INDEX quantity_index_lookup ON quantity_index (resource_type, param, canonical_code, canonical_low, id);
DROP INDEX date_index_low;
CREATE INDEX date_index_low ON date_index (resource_type, param, low, id);
DROP INDEX date_index_high;
CREATE INDEX date_index_high ON date_index (resource_type, param, high, id);
-- One date parameter's rows in id order, bounds included: a range (ge and lt on one parameter)
-- pages by walking it instead of reading every row of the type.
CREATE INDEX date_index_param ON date_index (resource_type, param, id, low, high);
