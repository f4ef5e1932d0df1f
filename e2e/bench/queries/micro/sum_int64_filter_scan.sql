-- The filter is on a column outside the sort key, so every row is read.
SELECT sum(lo_orderkey) FROM lineorder_flat WHERE lo_quantity < 10;
