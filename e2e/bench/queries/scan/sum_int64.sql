-- 100M BIGINT values (800 MB as int64), every row read: bench.py prints the time against memory bandwidth.
SELECT sum(v) FROM numbers;
