SELECT sum(lo_revenue), EXTRACT(YEAR FROM lo_orderdate) AS year, p_brand
FROM lineorder_flat
WHERE p_brand = 'MFGR#2239'
  AND s_region = 'EUROPE'
GROUP BY year, p_brand
ORDER BY year, p_brand;
