SELECT sum(lo_orderkey) FROM lineorder_flat;
