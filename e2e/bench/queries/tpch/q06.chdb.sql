-- ClickHouse reads 0.06 + 0.01 as a Float64 (0.06999...), which excludes l_discount = 0.07; the bounds are written out.
SELECT sum(l_extendedprice * l_discount) AS revenue
FROM lineitem
WHERE l_shipdate >= DATE '1994-01-01'
  AND l_shipdate < DATE '1994-01-01' + INTERVAL '1' YEAR
  AND l_discount BETWEEN 0.05 AND 0.07
  AND l_quantity < 24;
