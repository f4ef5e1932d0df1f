SELECT sum(lo_revenue), EXTRACT(YEAR FROM lo_orderdate) AS year, p_brand
FROM lineorder_flat
WHERE p_category = 'MFGR#12'
  AND s_region = 'AMERICA'
GROUP BY year, p_brand
ORDER BY year, p_brand;
