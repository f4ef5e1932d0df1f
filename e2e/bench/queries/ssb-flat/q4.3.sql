SELECT EXTRACT(YEAR FROM lo_orderdate) AS year, s_city, p_brand, sum(lo_revenue - lo_supplycost) AS profit
FROM lineorder_flat
WHERE c_region = 'AMERICA'
  AND s_nation = 'UNITED STATES'
  AND lo_orderdate >= DATE '1997-01-01' AND lo_orderdate <= DATE '1998-12-31'
  AND p_category = 'MFGR#14'
GROUP BY year, s_city, p_brand
ORDER BY year ASC, s_city ASC, p_brand ASC;
