-- The filter is on the leading column of the sort key (DUPLICATE KEY / ORDER BY).
SELECT sum(lo_orderkey) FROM lineorder_flat WHERE lo_orderdate >= DATE '1998-01-01';
