SELECT c_nation, s_nation, EXTRACT(YEAR FROM lo_orderdate) AS year, sum(lo_revenue) AS revenue
FROM lineorder_flat
WHERE c_region = 'ASIA'
  AND s_region = 'ASIA'
  AND lo_orderdate >= DATE '1992-01-01' AND lo_orderdate <= DATE '1997-12-31'
GROUP BY c_nation, s_nation, year
ORDER BY year ASC, revenue DESC;
