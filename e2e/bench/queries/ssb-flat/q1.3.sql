SELECT sum(lo_extendedprice * lo_discount) AS revenue
FROM lineorder_flat
WHERE EXTRACT(WEEK FROM lo_orderdate) = 6
  AND lo_orderdate >= DATE '1994-01-01' AND lo_orderdate <= DATE '1994-12-31'
  AND lo_discount BETWEEN 5 AND 7
  AND lo_quantity BETWEEN 26 AND 35;
