SELECT EXTRACT(YEAR FROM lo_orderdate) AS year, s_nation, p_category, sum(lo_revenue - lo_supplycost) AS profit
FROM lineorder_flat
WHERE c_region = 'AMERICA'
  AND s_region = 'AMERICA'
  AND lo_orderdate >= DATE '1997-01-01' AND lo_orderdate <= DATE '1998-12-31'
  AND p_mfgr IN ('MFGR#1', 'MFGR#2')
GROUP BY year, s_nation, p_category
ORDER BY year ASC, s_nation ASC, p_category ASC;
