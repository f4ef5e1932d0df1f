SELECT count(*) FROM lineorder_flat;
