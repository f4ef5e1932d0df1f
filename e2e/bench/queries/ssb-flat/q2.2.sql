SELECT sum(lo_revenue), EXTRACT(YEAR FROM lo_orderdate) AS year, p_brand
FROM lineorder_flat
WHERE p_brand >= 'MFGR#2221' AND p_brand <= 'MFGR#2228'
  AND s_region = 'ASIA'
GROUP BY year, p_brand
ORDER BY year, p_brand;
