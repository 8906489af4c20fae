-- Search plans at scale (docs/search.md#how-it-works, docs/benchmarks.md#search).
--
-- Reference targets are compared with resource ids and types (includes, _has, _list): with the
-- columns in "C" and resource's in the default collation, the comparison had no collation and
-- could not use resource_pkey (an _include read every resource).
ALTER TABLE reference_index
    ALTER COLUMN target_type TYPE TEXT COLLATE "default",
    ALTER COLUMN target_id TYPE TEXT COLLATE "default";

-- Which values are common per type and parameter: without these the planner multiplied the
-- columns' selectivities and took a code on 10% of Observations for one on 1%, and chose plans
-- for a few matches that had tens of thousands.
CREATE STATISTICS token_index_values (mcv) ON resource_type, param, code, system FROM token_index;
ALTER STATISTICS token_index_values SET STATISTICS 1000;
CREATE STATISTICS reference_index_targets (mcv) ON resource_type, param, target_type FROM reference_index;
CREATE STATISTICS string_index_params (mcv) ON resource_type, param FROM string_index;
CREATE STATISTICS date_index_params (mcv) ON resource_type, param FROM date_index;
CREATE STATISTICS number_index_params (mcv) ON resource_type, param FROM number_index;
CREATE STATISTICS quantity_index_units (mcv) ON resource_type, param, canonical_code FROM quantity_index;
CREATE STATISTICS uri_index_values (mcv) ON resource_type, param, uri FROM uri_index;
ANALYZE token_index, reference_index, string_index, date_index, number_index, quantity_index, uri_index;
