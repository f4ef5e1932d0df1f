SELECT c_city, s_city, EXTRACT(YEAR FROM lo_orderdate) AS year, sum(lo_revenue) AS revenue
FROM lineorder_flat
WHERE c_city IN ('UNITED KI1', 'UNITED KI5')
  AND s_city IN ('UNITED KI1', 'UNITED KI5')
  AND lo_orderdate >= DATE '1992-01-01' AND lo_orderdate <= DATE '1997-12-31'
GROUP BY c_city, s_city, year
ORDER BY year ASC, revenue DESC;
