-- Search plans at scale (docs/search.md#how-it-works, docs/benchmarks.md#search).
--
-- Reference targets are compared with resource ids and types (includes, _has, _list): with the
-- columns in "C" and resource's in the default collation, the comparison had no collation and
-- could not use resource_pkey (an _include read every resource).
ALTER TABLE reference_index
    ALTER COLUMN target_type TYPE TEXT COLLATE "default",
    ALTER COLUMN target_id TYPE TEXT COLLATE "default";

-- Lookup indexes end in the resource id: an equality lookup gives its resources in id order (a
-- page is the first rows of one index range), a sorted page walks them in value order, and
-- neither visits the table.
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
-- pages by merging two walks of it instead of reading every row of the type.
CREATE INDEX date_index_param ON date_index (resource_type, param, id, low, high);

-- Which values are common per type and parameter: without these the planner multiplied the
-- columns' selectivities and took a code on 10% of Observations for one on 1%.
CREATE STATISTICS token_index_values (mcv) ON resource_type, param, code, system FROM token_index;
ALTER STATISTICS token_index_values SET STATISTICS 1000;
CREATE STATISTICS reference_index_targets (mcv) ON resource_type, param, target_type FROM reference_index;
CREATE STATISTICS string_index_params (mcv) ON resource_type, param FROM string_index;
CREATE STATISTICS date_index_params (mcv) ON resource_type, param FROM date_index;
CREATE STATISTICS number_index_params (mcv) ON resource_type, param FROM number_index;
CREATE STATISTICS quantity_index_units (mcv) ON resource_type, param, canonical_code FROM quantity_index;
CREATE STATISTICS uri_index_values (mcv) ON resource_type, param, uri FROM uri_index;
ANALYZE token_index, reference_index, string_index, date_index, number_index, quantity_index, uri_index;
